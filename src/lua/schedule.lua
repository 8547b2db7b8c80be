-- schedule.lua: messages that wait for their time (<p>scheduled) and the
-- court reminders that put them there (CONTRACT.md section 2).
--
-- <p>case:<ref>   hash: recipient id -> the job whose reminders are pending
-- <p>job:<id>     also: vars (the template values, JSON), sig (date, time
--                 and place: a replacement with another sig gets a notice)

--: op tick
--: head batch stops_since
--: reply moved wait at stops
-- Moves up to batch due messages from the schedule to their ready stream.
-- wait: ms until the next due one, or -1 when none waits. stops: the jobs
-- stopped by a cancel (<p>stops) at or after stops_since (Unix ms; ''
-- for none), so that every instance drops the messages of theirs still
-- waiting for an adapter within a tick; at: the time to pass as
-- stops_since next.
register('tick', function(a)
	local due = redis.call('ZRANGEBYSCORE', P .. 'scheduled', '-inf', now, 'LIMIT', 0,
		tonumber(a[@head.batch]))
	for _, mid in ipairs(due) do
		local f = redis.call('HMGET', P .. 'msg:' .. mid, 'status', 'channel', 'urgent', 'qz', 'lane')
		if f[1] == 'scheduled' then
			queue_ready(f[2], f[3], mid, f[4], f[5])
		end
	end
	if #due > 0 then redis.call('ZREM', P .. 'scheduled', unpack(due)) end
	local nxt = redis.call('ZRANGE', P .. 'scheduled', 0, 0, 'WITHSCORES')
	local wait = -1
	if #nxt == 2 then wait = math.max(0, tonumber(nxt[2]) - now) end
	local stops = {}
	local since = a[@head.stops_since]
	if since and since ~= '' then
		stops = redis.call('ZRANGEBYSCORE', P .. 'stops', since, '+inf')
	end
	return { [@reply.moved] = #due, [@reply.wait] = wait, [@reply.at] = now,
		[@reply.stops] = stops }
end)

-- What a sent (or sending: it cannot be taken back) enrolment notice has
-- told the person: see court_accept.
local told = { sending = true, sent = true, delivered = true, read = true, replied = true }

-- Cancels the messages of job that have not gone out yet (accepted: in a
-- ready stream, where the claim skips it; scheduled). Returns how many,
-- and what became of the job's enrolment notice (a message whose payload
-- names the court_enrolment template, intake.c's court_record, or a town
-- hall's townhall_confirmation, townhall_record): 'told'
-- when one was sent or is being sent; else 'first' or 'changed', the kind
-- of one this cancelled before it went out; else nil (none, or none that
-- reached the person: failed, expired, suppressed).
local function cancel_job(job, why)
	local seq, total = job_messages(job)
	if not seq then return 0 end
	local n, notice = 0, nil
	for k = 1, total do
		local mid = 'm' .. seq .. '.' .. int_s(k)
		local f = redis.call('HMGET', P .. 'msg:' .. mid, 'job', 'kind', 'contact', 'channel',
			'status', 'attempt', 'd')
		if f[1] then
			local was = f[5]
			local cancelled = cancel_message(mid, f, why)
			if cancelled then n = n + 1 end
			-- (In compact JSON this text is only ever the template's key
			-- and value: quotes inside strings are escaped.)
			if notice ~= 'told' and f[7]
				and (string.find(f[7], '"tpl":"court_enrolment"', 1, true)
					or string.find(f[7], '"tpl":"townhall_confirmation"', 1, true)) then
				if told[was] then
					notice = 'told'
				elseif cancelled then
					notice = string.find(f[7], '"changed":true', 1, true) and 'changed' or 'first'
				end
			end
		end
	end
	return n, notice
end

-- A court_reminder job (intake.c's court_record): replaces the pending
-- reminders of the previous job for the same case and recipient, and
-- creates its own; the enrolment notice only for the first job of the
-- case and recipient, when the date, time or place changed, or when the
-- previous job's notice was cancelled before it went out.
local function court_accept(id, kind, c, jk, seq)
	local ck = P .. 'case:' .. c.ref
	local prev = redis.call('HGET', ck, c.rid)
	local notice, replaced = 'first', 0
	if prev and prev ~= id then
		local taken
		replaced, taken = cancel_job(prev, 'replaced by job ' .. id)
		local p = redis.call('HMGET', P .. 'job:' .. prev, 'sig', 'at')
		local ahead = (tonumber(p[2]) or 0) > now
		if taken == 'first' or taken == 'changed' then
			-- The previous job's notice had not gone out (queued, or held
			-- by quiet hours) and was just cancelled with it: the person
			-- has not been told its date, so this job sends the notice
			-- again, whatever its own date: a first one, or a change if
			-- the one taken back was a change (an earlier job told them
			-- another date). Without this, a correction sent right after
			-- a job (same date: "nothing new") left the person with no
			-- notice at all, and one with another date sent a change to
			-- someone never told the first.
			notice = (taken == 'changed' and ahead) and 'changed' or 'first'
		elseif p[1] == c.sig then
			notice = nil
		elseif ahead then
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

-- A cancel job naming a job (contract 1.1: an alert being expanded or
-- sent, a scheduled message): its expansion stops (the expand op
-- acknowledges a job whose x is not 'run'), its messages not yet sent
-- are cancelled, and <p>stop:<target> marks it, so that what is claimed
-- already gets no retry or fallback (result, claim) and the instances
-- holding some of its messages for an adapter drop them (tick's stops,
-- <p>stops, an hour of them). One call walks every message of the job:
-- for a 10,000-person alert about 20 ms of Redis, once. Returns how many
-- were cancelled, or nil for a job never seen.
local function job_stop(id, kind, target, jk)
	local n = nil
	if redis.call('EXISTS', P .. 'seen:' .. target) == 1 then
		local tk = P .. 'job:' .. target
		if redis.call('HGET', tk, 'x') == 'run' then
			redis.call('HSET', tk, 'x', 'stopped')
			redis.call('DEL', P .. 'xs:' .. target, P .. 'xr:' .. target)
		end
		redis.call('SET', P .. 'stop:' .. target, id, 'EX', retention_s)
		n = cancel_job(target, 'cancelled by job ' .. id)
		local sk = P .. 'stops'
		redis.call('ZADD', sk, now_s, target)
		redis.call('ZREMRANGEBYSCORE', sk, '-inf', string.format('(%d', now - 3600000))
		redis.call('EXPIRE', sk, 3600)
	end
	redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'target', target,
		'result', n and string.format('%d', n) or 'unknown job')
	redis.call('EXPIRE', jk, retention)
	event(id, kind, nil, nil, nil, 'accepted', 0, nil, n == nil and 'unknown job' or nil)
	return n
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
