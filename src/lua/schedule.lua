-- schedule.lua: messages that wait for their time (<p>scheduled) and the
-- court reminders that put them there (CONTRACT.md section 2).
--
-- <p>case:<ref>   hash: recipient id -> the job whose reminders are pending
-- <p>job:<id>     also: vars (the template values, JSON), sig (date, time
--                 and place: a replacement with another sig gets a notice)

--: op tick
--: head batch
--: reply moved wait
-- Moves up to batch due messages from the schedule to their ready stream.
-- wait: ms until the next due one, or -1 when none waits.
register('tick', function(a)
	local due = redis.call('ZRANGEBYSCORE', P .. 'scheduled', '-inf', now, 'LIMIT', 0,
		tonumber(a[@head.batch]))
	for _, mid in ipairs(due) do
		local f = redis.call('HMGET', P .. 'msg:' .. mid, 'status', 'channel', 'urgent', 'qz')
		if f[1] == 'scheduled' then
			queue_ready(f[2], f[3], mid, f[4])
		end
	end
	if #due > 0 then redis.call('ZREM', P .. 'scheduled', unpack(due)) end
	local nxt = redis.call('ZRANGE', P .. 'scheduled', 0, 0, 'WITHSCORES')
	local wait = -1
	if #nxt == 2 then wait = math.max(0, tonumber(nxt[2]) - now) end
	return { [@reply.moved] = #due, [@reply.wait] = wait }
end)

-- Cancels the messages of job that have not gone out yet (accepted: in a
-- ready stream, where the claim skips it; scheduled). Returns how many.
local function cancel_job(job, why)
	local seq, total = job_messages(job)
	if not seq then return 0 end
	local n = 0
	for k = 1, total do
		local mid = 'm' .. seq .. '.' .. int_s(k)
		local f = redis.call('HMGET', P .. 'msg:' .. mid, 'job', 'kind', 'contact', 'channel',
			'status', 'attempt')
		if f[1] and cancel_message(mid, f, why) then n = n + 1 end
	end
	return n
end

-- A court_reminder job (intake.c's court_record): replaces the pending
-- reminders of the previous job for the same case and recipient, and
-- creates its own; the enrolment notice only for the first job of the
-- case and recipient, or when the date, time or place changed.
local function court_accept(id, kind, c, jk, seq)
	local ck = P .. 'case:' .. c.ref
	local prev = redis.call('HGET', ck, c.rid)
	local notice, replaced = 'first', 0
	if prev and prev ~= id then
		replaced = cancel_job(prev, 'replaced by job ' .. id)
		local p = redis.call('HMGET', P .. 'job:' .. prev, 'sig', 'at')
		if p[1] == c.sig then
			notice = nil
		elseif (tonumber(p[2]) or 0) > now then
			notice = 'changed'
		end
		-- (A next hearing after a past one is a new enrolment, not a change.)
	end
	local ttl = keep_until(tonumber(c.at))
	local n = 0
	local mids = {}
	for _, m in ipairs(c.msgs) do
		if not m.enrol or notice then
			m.job, m.kind = id, kind
			m.urgent = '0'
			m.expires = tonumber(m.expires) or 0
			m.due = tonumber(m.due) or 0
			if m.enrol and notice == 'changed' then
				-- The payload is intake.c's compact JSON object.
				m.d = string.sub(m.d, 1, -2) .. ',"changed":true}'
			end
			n = n + 1
			mids[n] = m
		end
	end
	redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'seq', seq, 'messages', n,
		'vars', c.vars, 'sig', c.sig, 'at', string.format('%d', tonumber(c.at) or 0),
		'case', c.ref, 'replaced', prev or '')
	for k, m in ipairs(mids) do create_message(m, 'm' .. seq .. '.' .. int_s(k)) end
	redis.call('EXPIRE', jk, ttl)
	redis.call('HSET', ck, c.rid, id)
	redis.call('EXPIRE', ck, ttl, 'GT')
	redis.call('EXPIRE', ck, ttl, 'NX')
	return replaced
end

-- A cancel job: every pending reminder of the case, for every recipient.
-- The case is forgotten: a later job for it is a first one again.
local function court_cancel(id, kind, ref, jk)
	local ck = P .. 'case:' .. ref
	local jobs = redis.call('HGETALL', ck)
	local n = 0
	for i = 2, #jobs, 2 do
		n = n + cancel_job(jobs[i], 'cancelled by job ' .. id)
	end
	redis.call('DEL', ck)
	redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'case', ref,
		'result', string.format('%d', n))
	redis.call('EXPIRE', jk, retention)
	event(id, kind, nil, nil, nil, 'accepted', 0)
	return n
end
