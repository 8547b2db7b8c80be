-- townhall.lua: town-hall registrations (CONTRACT.md section 2, kind
-- townhall_confirmation; issue 14): the notice and reminders of each
-- registration, its replies (1 attending, 2 cancel), the tracked join
-- links, the cancellation of a whole event, and its figures.
--
-- <p>event:<ref>   hash: recipient id -> the job of their registration
-- <p>evq:<ref>     hash: recipient id -> the SEQUENCE of their invitation
--                  (kept across replacements and a cancellation, so a
--                  calendar always sees it rise)
-- <p>evr:<ref>     hash: recipient id -> their latest answer (meaning)
-- <p>evj:<ref>     set: recipient ids who opened a join link
-- <p>evx:<ref>     the cancel job that cancelled the event
-- <p>jt:<token>    the message a tracked join link was sent in
-- A registration's job hash also holds: vars (template values, JSON),
-- sig (time, place, link, title), at (starts, ms), event, rid, qz (the
-- zone of the recipient's quiet hours), nt (JSON: where its notices go,
-- [{chain, addr}]), replies (the digits' meanings, for match_reply).
-- Reminder records hold due (ms), so that a "1" after a "2" can put back
-- the reminders the "2" cancelled.

local REG_KIND = 'townhall_confirmation'
local BY_REPLY = 'cancelled by reply 2'

-- The keys of event ref.
local function ev_key(what, ref) return P .. what .. ':' .. ref end

-- Keeps key (an event's answers or joins) at least as long as the
-- registration job.
local function keep_as_job(key, job)
	local ttl = redis.call('TTL', P .. 'job:' .. job)
	if ttl < 1 then ttl = retention end
	redis.call('EXPIRE', key, ttl, 'GT')
	redis.call('EXPIRE', key, ttl, 'NX')
end

-- Creates the notices and reminders of registration job id (t: intake.c's
-- townhall_record) and indexes its join links. notice: nil (nothing new
-- to tell), 'first' or 'changed'; sq: the invitation's SEQUENCE.
local function townhall_messages(id, kind, t, jk, seq, notice, sq, answer)
	local n, mids = 0, {}
	for _, m in ipairs(t.msgs) do
		if not m.notice or notice then
			m.job, m.kind = id, kind
			m.urgent = '0'
			m.expires = tonumber(m.expires) or 0
			m.due = tonumber(m.due) or 0
			m.rp = t.rp
			if m.notice then
				-- The payload is intake.c's compact JSON object.
				m.d = string.sub(m.d, 1, -2) .. ',"sq":' .. int_s(sq)
					.. (notice == 'changed' and ',"changed":true}' or '}')
			end
			n = n + 1
			mids[n] = m
		end
	end
	redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'seq', seq, 'messages', n,
		'vars', t.vars, 'sig', t.sig, 'at', string.format('%d', tonumber(t.at) or 0),
		'event', t.ref, 'rid', t.rid, 'qz', t.qz or '', 'nt', t.nt,
		'replies', '{"1":"attending","2":"cancel"}')
	local ttl = keep_until(tonumber(t.keep) or 0)
	for k, m in ipairs(mids) do
		local mid = 'm' .. seq .. '.' .. int_s(k)
		create_message(m, mid)
		local mkey = P .. 'msg:' .. mid
		if m.jt and m.jt ~= '' then
			redis.call('SET', P .. 'jt:' .. m.jt, mid, 'EX', ttl_s(ttl))
		end
		if not m.notice then
			redis.call('HSET', mkey, 'due', string.format('%d', m.due))
			-- The person said they cannot come: their reminders wait,
			-- cancelled, for a "1" that puts them back.
			if answer == 'cancel' then
				local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel',
					'status', 'attempt')
				cancel_message(mid, f, BY_REPLY)
			end
		end
	end
	redis.call('EXPIRE', jk, ttl)
	return ttl
end

-- A townhall_confirmation job: the first registration of a person for an
-- event, or one that replaces theirs (contract: same UID, higher
-- SEQUENCE, a change notice only if the time or place changed). The
-- previous job's pending messages are cancelled; its notice, if it had
-- not gone out, is sent again by this job, as court_accept does.
local function townhall_accept(id, kind, t, jk, seq)
	local ek = ev_key('event', t.ref)
	local qk = ev_key('evq', t.ref)
	if redis.call('EXISTS', ev_key('evx', t.ref)) == 1 then
		-- Registering again for a cancelled event reinstates it, from
		-- nothing: the registrations it had were cancelled and told so.
		redis.call('DEL', ev_key('evx', t.ref), ek, ev_key('evr', t.ref), ev_key('evj', t.ref))
	end
	local prev = redis.call('HGET', ek, t.rid)
	local sq = tonumber(redis.call('HGET', qk, t.rid)) or 0
	local notice, replaced = 'first', 0
	if prev and prev ~= id then
		local taken
		replaced, taken = cancel_job(prev, 'replaced by job ' .. id)
		local p = redis.call('HGET', P .. 'job:' .. prev, 'sig')
		if taken == 'first' or taken == 'changed' then
			notice = taken
		elseif p == t.sig then
			notice = nil
		else
			notice = 'changed'
			sq = sq + 1
		end
	end
	local answer = redis.call('HGET', ev_key('evr', t.ref), t.rid)
	local ttl = townhall_messages(id, kind, t, jk, seq, notice, sq, answer)
	redis.call('HSET', ek, t.rid, id)
	redis.call('HSET', qk, t.rid, int_s(sq))
	for _, k in ipairs({ ek, qk }) do
		redis.call('EXPIRE', k, ttl, 'GT')
		redis.call('EXPIRE', k, ttl, 'NX')
	end
	return replaced
end

-- A reply with a meaning to a message of a registration (match_reply):
-- the person's latest answer is the one counted for the event; "2"
-- (cancel) cancels their pending reminders, and a "1" after it puts back
-- those still ahead.
local function townhall_answer(job, meaning)
	local j = redis.call('HMGET', P .. 'job:' .. job, 'event', 'rid')
	if not j[1] then return end
	-- The message answered may be an earlier job's (a replacement that
	-- had nothing new to say sent nothing): the reminders are the
	-- registration's current job's.
	job = redis.call('HGET', ev_key('event', j[1]), j[2]) or job
	local rk = ev_key('evr', j[1])
	local before = redis.call('HGET', rk, j[2])
	redis.call('HSET', rk, j[2], meaning)
	keep_as_job(rk, job)
	local seq, total = job_messages(job)
	if not seq or meaning == before then return end
	for k = 1, total do
		local mid = 'm' .. seq .. '.' .. int_s(k)
		local mkey = P .. 'msg:' .. mid
		local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status',
			'attempt', 'due', 'error')
		if f[7] then	-- a reminder
			if meaning == 'cancel' then
				cancel_message(mid, f, BY_REPLY)
			elseif before == 'cancel' and f[5] == 'cancelled' and f[8] == BY_REPLY
				and tonumber(f[7]) > now then
				set_status(mkey, f[1], f[2], f[4], 'cancelled', 'scheduled', 'error', '')
				redis.call('ZADD', P .. 'scheduled', f[7], mid)
				event(f[1], f[2], mid, f[3], f[4], 'scheduled', f[6])
			end
		end
	end
end

-- A cancel job naming an event: every registration's pending messages
-- are cancelled, and each registrant who was told of the event gets a
-- cancellation notice (a message of this job; by email with a
-- METHOD:CANCEL invitation of the same UID and a higher SEQUENCE), held
-- by their quiet hours but never sent after the start. Returns how many
-- messages were cancelled.
local function townhall_cancel(id, kind, ref, jk, seq)
	local ek = ev_key('event', ref)
	local qk = ev_key('evq', ref)
	local already = redis.call('GET', ev_key('evx', ref))
	-- Cancelled already: everyone was told; a second cancel says nothing.
	local regs = already and {} or redis.call('HGETALL', ek)
	local n, msgs = 0, {}
	local keep = 0
	for i = 1, #regs, 2 do
		local rid, job = regs[i], regs[i + 1]
		local c, taken = cancel_job(job, 'cancelled by job ' .. id)
		n = n + c
		local j = redis.call('HMGET', P .. 'job:' .. job, 'vars', 'at', 'qz', 'nt')
		local at = tonumber(j[2]) or 0
		-- Told: a notice went out (or none is pending and one went
		-- before); a registrant whose only notice was just taken back
		-- never heard of the event.
		if j[1] and j[4] and taken ~= 'first' and at > now then
			local sq = redis.call('HINCRBY', qk, rid, 1)
			local lang = cjson.decode(j[1]).lang
			for _, nt in ipairs(cjson.decode(j[4])) do
				local d = cjson.encode({ tpl = 'townhall_cancel', chain = nt.chain,
					addr = nt.addr, v = j[1], sq = sq })
				msgs[#msgs + 1] = { job = id, kind = kind, contact = rid, chain = nt.chain,
					addr = nt.addr, d = d, urgent = '0', expires = at, due = 0,
					qz = j[3] ~= '' and j[3] or nil,
					lang = type(lang) == 'string' and lang or nil }
			end
			if at > keep then keep = at end
		end
	end
	local ttl = keep_until(keep)
	redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'seq', seq, 'messages', #msgs,
		'event', ref, 'result', already and ('already cancelled by job ' .. already)
			or string.format('%d', n))
	for k, m in ipairs(msgs) do create_message(m, 'm' .. seq .. '.' .. int_s(k)) end
	redis.call('EXPIRE', jk, math.max(ttl, retention))
	if not already then
		redis.call('SET', ev_key('evx', ref), id, 'EX', math.max(ttl, retention))
	end
	event(id, kind, nil, nil, nil, 'accepted', 0)
	return n
end

--: op click
--: head token
--: reply url event contact
-- A tracked join link was opened (GET /j/<token>): records `clicked` on
-- the message it was sent in (the first time: an event, the message's
-- status if it has not gone further, the person among the event's
-- joined) and returns the real join URL. Returns nil for a token that
-- is unknown or expired, or whose registration is gone.
register('click', function(a)
	local mid = redis.call('GET', P .. 'jt:' .. a[@head.token])
	if not mid then return nil end
	local mkey = P .. 'msg:' .. mid
	local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status', 'attempt',
		'clicked')
	if not f[1] then return nil end
	local j = redis.call('HMGET', P .. 'job:' .. f[1], 'vars', 'event', 'rid')
	if not j[1] then return nil end
	local url = cjson.decode(j[1]).join_url
	if type(url) ~= 'string' or url == '' then return nil end
	if not f[7] then
		redis.call('HSET', mkey, 'clicked', now_s)
		if feedback_rank[f[5]] and feedback_rank[f[5]] < feedback_rank.clicked then
			set_status(mkey, f[1], f[2], f[4], f[5], 'clicked')
		end
		event(f[1], f[2], mid, f[3], f[4], 'clicked', f[6])
		local jk = ev_key('evj', j[2])
		redis.call('SADD', jk, j[3])
		keep_as_job(jk, f[1])
	end
	return { [@reply.url] = url, [@reply.event] = j[2], [@reply.contact] = f[3] }
end)

-- What a message's status says it reached (figures).
local reached = { sent = 1, delivered = 2, read = 2, replied = 2, clicked = 2 }

--: op event_figures
--: head ref
--: reply registered sent delivered attending cancel joined pending cancelled
-- A town hall's figures (pregon status --event, GET /v1/townhalls/{ref}):
-- people registered; their notices (confirmations and change notices)
-- sent and delivered; the latest answers, 1 (attending) and 2 (cancel);
-- people who opened a join link; reminders still to go; and whether
-- (by which job) the event was cancelled. A walk over every
-- registration's messages: for an operator's question, not a hot path.
register('event_figures', function(a)
	local ref = a[@head.ref]
	local regs = redis.call('HGETALL', ev_key('event', ref))
	local sent, delivered, pending = 0, 0, 0
	for i = 2, #regs, 2 do
		local seq, total = job_messages(regs[i])
		for k = 1, (seq and total or 0) do
			local f = redis.call('HMGET', P .. 'msg:' .. 'm' .. seq .. '.' .. int_s(k), 'status',
				'due', 'd')
			if f[2] then
				if f[1] == 'scheduled' or f[1] == 'accepted' or f[1] == 'sending' then
					pending = pending + 1
				end
			elseif f[3] and string.find(f[3], '"tpl":"townhall_confirmation"', 1, true) then
				local r = reached[f[1]]
				if r then sent = sent + 1 end
				if r == 2 then delivered = delivered + 1 end
			end
		end
	end
	local attending, cancel = 0, 0
	local answers = redis.call('HGETALL', ev_key('evr', ref))
	for i = 2, #answers, 2 do
		if answers[i] == 'attending' then attending = attending + 1 end
		if answers[i] == 'cancel' then cancel = cancel + 1 end
	end
	return { [@reply.registered] = #regs / 2, [@reply.sent] = sent,
		[@reply.delivered] = delivered, [@reply.attending] = attending,
		[@reply.cancel] = cancel, [@reply.joined] = redis.call('SCARD', ev_key('evj', ref)),
		[@reply.pending] = pending,
		[@reply.cancelled] = redis.call('GET', ev_key('evx', ref)) or '' }
end, { 'no-writes' })
