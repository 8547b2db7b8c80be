-- pregon.lua: every state change of jobs and messages, with its event, in
-- one atomic step (CONTRACT.md section 3; include/keys.h has the layout).
--
-- One script with an operation name, so that the helpers (event JSON, status
-- counters, time formatting) exist once. Keys are built from the prefix
-- inside the script: pregon targets a single Redis (not Cluster).
--
-- ARGV[1] op, ARGV[2] prefix, ARGV[3] events max_len, ARGV[4] retention
-- seconds, ARGV[5] dedupe seconds, ARGV[6] group, then the op's arguments.

local op, P, maxlen = ARGV[1], ARGV[2], ARGV[3]
local retention, dedupe, group = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Unix ms -> "2026-11-22T19:03:11.250Z" (days-to-civil, H. Hinnant).
local function iso(ms)
	local s = math.floor(ms / 1000)
	local days, rem = math.floor(s / 86400), s % 86400
	local z = days + 719468
	local era = math.floor(z / 146097)
	local doe = z - era * 146097
	local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
		- math.floor(doe / 146096)) / 365)
	local y = yoe + era * 400
	local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
	local mp = math.floor((5 * doy + 2) / 153)
	local d = doy - math.floor((153 * mp + 2) / 5) + 1
	local m = mp < 10 and mp + 3 or mp - 9
	if m <= 2 then y = y + 1 end
	return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
		math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60, ms % 1000)
end

local now_iso = iso(now)	-- one time per call: every event of the batch shares it
-- Numbers handed to redis.call are formatted with printf("%.17g") each
-- time; the clock is formatted once.
local now_s = string.format('%d', now)

-- JSON string of v; ids and statuses rarely need escaping, and
-- cjson.encode is the costliest step of an event, so it runs only when a
-- quote, a backslash, a control or a non-ASCII byte is present.
local function js(v)
	if v == nil or v == false or v == '' then return 'null' end
	if type(v) == 'string' and not string.find(v, '[%c"\\\128-\255]') then
		return '"' .. v .. '"'
	end
	return cjson.encode(v)
end

-- Events carry ids, never an address or a text.
local function event(job, kind, mid, contact, channel, status, attempt, provider_id, err, meaning)
	local e = '{"job":' .. js(job) .. ',"kind":' .. js(kind) .. ',"message":' .. js(mid)
		.. ',"contact":' .. js(contact) .. ',"channel":' .. js(channel)
		.. ',"status":"' .. status .. '","attempt":' .. (tonumber(attempt) or 0)
		.. ',"provider_id":' .. js(provider_id) .. ',"at":"' .. now_iso .. '"'
		.. ',"error":' .. js(err) .. ',"meaning":' .. js(meaning) .. '}'
	redis.call('XADD', P .. 'events', 'MAXLEN', '~', maxlen, '*', 'event', e)
end

-- Moves a message's status and the job's counter of messages per channel
-- and status together (totals per status are sums over the channels).
-- Extra fields for the message hash (provider_id, error, attempt) come in
-- `...` as name, value pairs and are written by the same HSET.
local function set_status(mkey, job, channel, old, new, ...)
	redis.call('HSET', mkey, 'status', new, 'updated', now_s, ...)
	local jk = P .. 'job:' .. job
	if old then
		redis.call('HINCRBY', jk, 'c:' .. channel .. ':' .. old, '-1')
	end
	redis.call('HINCRBY', jk, 'c:' .. channel .. ':' .. new, '1')
end

-- Email addresses are compared in lower case (what people type varies).
local function consent_addr(channel, addr)
	if channel == 'email' then return string.lower(addr) end
	return addr
end

local function opted_out(channel, addr)
	return redis.call('SISMEMBER', P .. 'optout:' .. channel, consent_addr(channel, addr)) == 1
end

local function lane_of(urgent)
	if urgent == '1' then return 'urgent' end
	return 'normal'
end

-- Creates a message on the first channel of `chain` that has an address
-- and is not opted out (contract section 2), queues it, and reports it.
-- m: job, kind, contact, chain (list), addr (channel -> address), d (the
-- payload as JSON: body, subject, chain, addr; stored as one field, since
-- every field of a hash costs on each write and read), urgent ('0'/'1'),
-- expires (ms or 0), due (ms or 0).
-- Message ids are "m<job seq>.<n>": the messages of a job are found from
-- its hash (seq, messages) without a list to keep.
--
-- With m.room (channel -> messages the caller can send now), a message due
-- now is claimed at once (status sending, attempt 1) instead of queued, and
-- returned as a send record; see the accept op for what holds it.
local function create_message(m, mid)
	local mkey = P .. 'msg:' .. mid
	local chosen = nil
	local skipped_optout = false
	for _, ch in ipairs(m.chain) do
		if m.addr[ch] and m.addr[ch] ~= '' then
			if opted_out(ch, m.addr[ch]) then
				skipped_optout = true
			else
				chosen = ch
				break
			end
		end
	end
	local channel = chosen or m.chain[1]
	-- The first status is decided before the record is written, so the
	-- record and the counters are written once.
	local status, why = 'accepted', nil
	if not chosen then
		status = 'suppressed'
		why = skipped_optout and 'opted out' or 'no address for any channel'
	elseif m.expires > 0 and now >= m.expires then
		status = 'expired'
	elseif m.due > now then
		status = 'scheduled'
	elseif m.room and (m.room[channel] or 0) > 0 then
		m.room[channel] = m.room[channel] - 1
		status = 'sending'
	end
	local to = m.addr[channel] or ''
	local attempt = status == 'sending' and '1' or '0'
	redis.call('HSET', mkey, 'job', m.job, 'kind', m.kind, 'contact', m.contact,
		'channel', channel, 'to', to, 'd', m.d,
		'attempt', attempt, 'urgent', m.urgent, 'expires', string.format('%d', m.expires),
		'created', now_s, 'status', status, 'updated', now_s, 'error', why or '')
	redis.call('EXPIRE', mkey, retention)
	redis.call('HINCRBY', P .. 'job:' .. m.job, 'c:' .. channel .. ':' .. status, '1')
	event(m.job, m.kind, mid, m.contact, channel, 'accepted', 0)
	if status == 'accepted' then
		redis.call('XADD', P .. 'ready:' .. channel .. ':' .. lane_of(m.urgent), '*', 'm', mid)
	elseif status == 'sending' then
		event(m.job, m.kind, mid, m.contact, channel, 'sending', 1)
		return mid, { 'send', mid, to, m.d, 1, m.job, m.contact, m.urgent,
			string.format('%d', m.expires), channel }
	else
		if status == 'scheduled' then
			redis.call('ZADD', P .. 'scheduled', m.due, mid)
		end
		event(m.job, m.kind, mid, m.contact, channel, status, 0, nil, why)
	end
	return mid
end

-- accept: ARGV[7] the caller's room per channel ("sms=n,email=n,signal=n"),
-- then ARGV[8..] in fours, one per jobs-stream entry: a JSON record, the
-- raw job text, the rejection reason ('' if valid) and the reason as events
-- may carry it (without the offending value, which may be an address).
-- The record:
--   {"e": entry id, "id": job id or null, "kind": kind or null,
--    "gone": true (entry deleted before we read it: acknowledge only),
--    "msgs": [{"contact","chain":[...],"addr":{...},"d": payload JSON,
--              "urgent":0|1,"expires":ms,"due":ms}]}
-- Returns {statuses, sends}: one status per entry, and a send record per
-- message claimed at once (the fast path: a job of one message, due now,
-- with room on its channel). Such a job's entry is NOT acknowledged here:
-- it stays pending in the jobs group as the message's lease, and the
-- result acknowledges it. If the instance dies first, the entry is
-- reclaimed, comes back here as "retried", and its message is queued.
-- Idempotent by job id: <p>seen:<id> holds the entry that first carried it.
if op == 'accept' then
	local out, sends = {}, {}
	local room = {}
	for ch, n in string.gmatch(ARGV[7], '(%a+)=(%d+)') do room[ch] = tonumber(n) end
	for i = 8, #ARGV, 4 do
		local r = cjson.decode(ARGV[i])
		local raw, reason, public_reason = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
		local id = r.id
		if type(id) ~= 'string' then id = nil end
		local kind = r.kind
		if type(kind) ~= 'string' then kind = nil end
		local ack = true
		if r.gone then
			out[#out + 1] = 'gone'
		elseif reason ~= '' then
			redis.call('XADD', P .. 'dead', '*', 'job', raw, 'reason', reason, 'at', now_iso)
			event(id, kind, nil, nil, nil, 'rejected', 0, nil, public_reason)
			out[#out + 1] = 'rejected'
		else
			local seen_key = P .. 'seen:' .. id
			local jk = P .. 'job:' .. id
			if not redis.call('SET', seen_key, r.e, 'NX', 'EX', dedupe) then
				if redis.call('GET', seen_key) ~= r.e then
					event(id, kind, nil, nil, nil, 'duplicate', 0)
					out[#out + 1] = 'duplicate'
				else
					-- This entry was accepted before and not acknowledged:
					-- its message was claimed at once by an instance that
					-- is gone. Queue what is still in flight.
					local j = redis.call('HMGET', jk, 'seq', 'messages')
					for k = 1, tonumber(j[2]) or 0 do
						local mid = 'm' .. j[1] .. '.' .. k
						local f = redis.call('HMGET', P .. 'msg:' .. mid, 'status', 'channel', 'urgent')
						if f[1] == 'sending' then
							redis.call('XADD', P .. 'ready:' .. f[2] .. ':' .. lane_of(f[3]), '*', 'm', mid)
						end
					end
					out[#out + 1] = 'retried'
				end
			else
				local seq = redis.call('INCR', P .. 'jobseq')
				redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'seq', seq, 'messages', #r.msgs)
				for k, m in ipairs(r.msgs) do
					m.job, m.kind = id, kind
					m.urgent = (m.urgent == 1 or m.urgent == true) and '1' or '0'
					m.expires = tonumber(m.expires) or 0
					m.due = tonumber(m.due) or 0
					if #r.msgs == 1 then m.room = room end
					local _, send = create_message(m, 'm' .. seq .. '.' .. k)
					if send then
						send[#send + 1] = r.e
						sends[#sends + 1] = send
						ack = false
					end
				end
				redis.call('EXPIRE', jk, retention)
				out[#out + 1] = 'accepted'
			end
		end
		if ack then
			redis.call('XACK', P .. 'jobs', group, r.e)
		end
	end
	return { out, sends }
end

-- claim: ARGV[7..] in fours: channel, lane, entry id, message id.
-- Returns, per entry, {verdict, mid, to, payload (JSON), attempt, job, contact, urgent, expires}
-- where verdict is "send" (now in status sending) or "skip" (acknowledged:
-- final, expired, suppressed or gone).
if op == 'claim' then
	local out = {}
	for i = 7, #ARGV, 4 do
		local channel, lane, entry, mid = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
		local stream = P .. 'ready:' .. channel .. ':' .. lane
		local mkey = P .. 'msg:' .. mid
		local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status',
			'attempt', 'urgent', 'expires', 'to', 'd')
		local job, kind, contact, mch, status = f[1], f[2], f[3], f[4], f[5]
		local verdict = 'skip'
		if not job or mch ~= channel then
			-- record expired or belongs elsewhere: nothing to send
		elseif status == 'accepted' or status == 'scheduled' or status == 'sending' then
			local expires = tonumber(f[8]) or 0
			if expires > 0 and now >= expires then
				set_status(mkey, job, channel, status, 'expired')
				event(job, kind, mid, contact, channel, 'expired', f[6])
			elseif opted_out(channel, f[9]) then
				set_status(mkey, job, channel, status, 'suppressed', 'error', 'opted out')
				event(job, kind, mid, contact, channel, 'suppressed', f[6], nil, 'opted out')
			else
				local attempt = (tonumber(f[6]) or 0) + 1
				set_status(mkey, job, channel, status, 'sending', 'attempt', attempt)
				event(job, kind, mid, contact, channel, 'sending', attempt)
				verdict = 'send'
				out[#out + 1] = { 'send', mid, f[9], f[10], attempt, job, contact,
					f[7], f[8] or '0' }
			end
		end
		if verdict == 'skip' then
			redis.call('XACK', stream, group, entry)
			out[#out + 1] = { 'skip', mid }
		end
	end
	return out
end

-- result: ARGV[7] max attempts, then in eights: channel, lane ("urgent",
-- "normal", or "job" for a message claimed at intake), entry id,
-- message id, attempt, outcome (sent|temp|perm), provider id or error,
-- delay before the retry (ms, for temp).
-- A result for an attempt that is no longer current (the message was
-- reclaimed and sent again elsewhere) changes nothing but the ack.
if op == 'result' then
	local max_attempts = tonumber(ARGV[7])
	local out, acks = {}, {}
	for i = 8, #ARGV, 8 do
		local channel, lane, entry, mid = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
		local attempt, outcome, detail, due = tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6], tonumber(ARGV[i + 7])
		local mkey = P .. 'msg:' .. mid
		local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status', 'attempt')
		local job, kind, contact, status = f[1], f[2], f[3], f[5]
		local r = 'stale'
		if job and f[4] == channel and status == 'sending' and tonumber(f[6]) == attempt then
			if outcome == 'temp' and attempt >= max_attempts then
				outcome = 'perm'
				detail = 'gave up after ' .. attempt .. ' attempts: ' .. detail
			end
			if outcome == 'sent' then
				set_status(mkey, job, channel, status, 'sent', 'provider_id', detail)
				event(job, kind, mid, contact, channel, 'sent', attempt, detail)
			elseif outcome == 'temp' then
				set_status(mkey, job, channel, status, 'scheduled', 'error', detail)
				redis.call('ZADD', P .. 'scheduled', now + due, mid)
				event(job, kind, mid, contact, channel, 'scheduled', attempt, nil, detail)
			else
				set_status(mkey, job, channel, status, 'failed', 'error', detail)
				event(job, kind, mid, contact, channel, 'failed', attempt, nil, detail)
				-- Fall back to the channels after this one in the recipient's
				-- order: a new message of the same job.
				local g = redis.call('HMGET', mkey, 'd', 'urgent', 'expires')
				local d = cjson.decode(g[1])
				local rest, after = {}, false
				for _, ch in ipairs(d.chain) do
					if after then rest[#rest + 1] = ch end
					if ch == channel then after = true end
				end
				if #rest > 0 then
					local n = redis.call('HINCRBY', P .. 'job:' .. job, 'messages', 1)
					local fallback_mid = string.match(mid, '^(m%d+)%.') .. '.' .. n
					create_message({ job = job, kind = kind, contact = contact, chain = rest,
						addr = d.addr, d = g[1], urgent = g[2],
						expires = tonumber(g[3]) or 0, due = 0 }, fallback_mid)
				end
			end
			r = outcome
		end
		-- A message claimed at intake is held by its job's entry.
		local stream = lane == 'job' and P .. 'jobs' or P .. 'ready:' .. channel .. ':' .. lane
		acks[stream] = acks[stream] or {}
		table.insert(acks[stream], entry)
		out[#out + 1] = r
	end
	-- One XACK per stream for the whole batch.
	for stream, ids in pairs(acks) do
		redis.call('XACK', stream, group, unpack(ids))
	end
	return out
end

-- tick: ARGV[7] batch size. Moves due messages from the schedule to their
-- ready stream. Returns {moved, ms until the next due one or -1}.
if op == 'tick' then
	local due = redis.call('ZRANGEBYSCORE', P .. 'scheduled', '-inf', now, 'LIMIT', 0, tonumber(ARGV[7]))
	for _, mid in ipairs(due) do
		local f = redis.call('HMGET', P .. 'msg:' .. mid, 'status', 'channel', 'urgent')
		if f[1] == 'scheduled' then
			redis.call('XADD', P .. 'ready:' .. f[2] .. ':' .. lane_of(f[3]), '*', 'm', mid)
		end
		redis.call('ZREM', P .. 'scheduled', mid)
	end
	local nxt = redis.call('ZRANGE', P .. 'scheduled', 0, 0, 'WITHSCORES')
	local wait = -1
	if #nxt == 2 then wait = math.max(0, tonumber(nxt[2]) - now) end
	return { #due, wait }
end

-- trim: ARGV[7..] stream keys. Drops entries every consumer of our group
-- has acknowledged: those before the oldest pending one and not after the
-- last delivered one. Keeps the queues from growing without bound.
if op == 'trim' then
	local trimmed = 0
	for i = 7, #ARGV do
		local key = ARGV[i]
		if redis.call('EXISTS', key) == 1 then
			local groups = redis.call('XINFO', 'GROUPS', key)
			if #groups == 1 then
				local g = groups[1]
				local info = {}
				for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
				local minid = nil
				local pending = redis.call('XPENDING', key, group)
				if pending[1] > 0 then
					minid = pending[2]
				else
					local last = info['last-delivered-id']
					local ms, seq = string.match(last, '^(%d+)-(%d+)$')
					if ms then minid = ms .. '-' .. (tonumber(seq) + 1) end
				end
				if minid then
					trimmed = trimmed + redis.call('XTRIM', key, 'MINID', '~', minid)
				end
			end
		end
	end
	return trimmed
end

-- consent: ARGV[7] channel, ARGV[8] address, ARGV[9] "out" or "in",
-- ARGV[10] source (keyword, carrier, operator, crm, email), ARGV[11] detail
-- (the keyword and inbound message id, the carrier error, an operator's
-- note). Changes the opt-out set and appends to the address's consent
-- ledger <p>consent:<address>, which never expires: an organization must be
-- able to show when and how a person opted out or back in, also after the
-- contact was deleted. Returns 1 if the state changed, 0 if it already was so.
if op == 'consent' then
	local channel, action, source, detail = ARGV[7], ARGV[9], ARGV[10], ARGV[11]
	local addr = consent_addr(channel, ARGV[8])
	local key = P .. 'optout:' .. channel
	local changed
	if action == 'out' then
		changed = redis.call('SADD', key, addr)
	elseif action == 'in' then
		changed = redis.call('SREM', key, addr)
	else
		return redis.error_reply('consent: action must be out or in')
	end
	redis.call('RPUSH', P .. 'consent:' .. addr, '{"channel":' .. js(channel)
		.. ',"action":' .. js(action) .. ',"source":' .. js(source)
		.. ',"detail":' .. js(detail) .. ',"at":"' .. now_iso .. '","changed":'
		.. (changed == 1 and 'true' or 'false') .. '}')
	return changed
end

return redis.error_reply('pregon.lua: unknown op ' .. tostring(op))
