-- common.lua: what every operation of the library shares: the call's
-- context (prefix, clock), events, the status counters, consent, and the
-- message record (include/keys.h has the layout). The other files of
-- src/lua/ are joined after this one into one Redis Functions library by
-- tools/lua_lib.py, which also turns the `--:` declarations and the `@`
-- names into the positions the C side uses (build/gen/lua_lib.h).
--
-- Every state change and its event are written in one function call, so
-- the event stream never disagrees with the records (CONTRACT.md section
-- 3). Keys are built from the prefix inside: pregon targets a single Redis
-- (not Cluster), so functions are called with no KEYS.
--
-- a[1] prefix, a[2] events max_len, a[3] retention seconds, a[4] dedupe
-- seconds, a[5] the caller's clock (Unix ms) or '' for Redis' TIME. Only
-- the test clock (include/clock.h) passes a time: otherwise every instance
-- decides by the one clock they share.

local group = 'pregon'	-- PREGON_GROUP in include/keys.h

-- The context of the running call. Redis runs one function at a time, so
-- these are set by begin() at the start of each call and read by the
-- helpers below.
local P, maxlen, retention, dedupe, now, now_iso, now_s
local retention_s	-- retention as the caller wrote it (a string)
local counts		-- pending counter changes, written once at the end

-- Integers as Redis wants them. A Lua number handed to redis.call or
-- joined with .. is formatted with printf("%.14g"), a float conversion
-- that showed in profiles; string.format('%d') is an integer one, and
-- the small ones (attempts, message numbers) are kept.
-- (Filled as used: the library's loading may not call string.format.)
local small_ints = {}
local function int_s(n)
	local s = small_ints[n]
	if s then return s end
	s = string.format('%d', n)
	if n >= 0 and n < 256 then small_ints[n] = s end
	return s
end

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

local function begin(a)
	P, maxlen = a[1], a[2]
	retention, dedupe = tonumber(a[3]), tonumber(a[4])
	retention_s = a[3]
	if a[5] ~= '' then
		now = tonumber(a[5])
	else
		local t = redis.call('TIME')
		now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
	end
	-- One time per call: every event of a batch shares it. Numbers handed
	-- to redis.call are formatted with printf("%.17g") each time; the
	-- clock is formatted once.
	now_iso = iso(now)
	now_s = string.format('%d', now)
	counts = {}
end

-- Jobs of one message (kind message, and the answers to inbound texts)
-- keep no job hash and no counters: their seen key holds what finds the
-- message (accept), and `pregon status` counts from its record. What is
-- counted per job is worth it where a job has many messages.
local single = { message = true, consent = true, help = true }

-- The counters of messages per job, channel and status (`pregon status`),
-- added up over the call and written once per job and field at its end:
-- a batch of an alert's results moves one counter pair, not one per message.
local function count(job, kind, channel, status, delta)
	if single[kind] then return end
	local jc = counts[job]
	if not jc then
		jc = {}
		counts[job] = jc
	end
	local f = 'c:' .. channel .. ':' .. status
	jc[f] = (jc[f] or 0) + delta
end

local function flush_counts()
	for job, jc in pairs(counts) do
		local jk = P .. 'job:' .. job
		for f, n in pairs(jc) do
			if n ~= 0 then redis.call('HINCRBY', jk, f, n) end
		end
	end
	counts = {}
end

-- Registers op `name` as the function <library>_<name>.
local function register(name, fn, flags)
	redis.register_function {
		function_name = LIB .. '_' .. name,
		flags = flags,
		callback = function(_, a)
			begin(a)
			local r = fn(a)
			flush_counts()
			return r
		end,
	}
end

local function str(v)
	if type(v) == 'string' then return v end
	return ''
end

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

-- js() of an id pregon validated (job_parse.c check_id: 1 to 128 bytes of
-- printable ASCII without spaces): only a quote or a backslash needs
-- escaping, and two plain finds cost a tenth of js()'s pattern.
local function js_id(v)
	if v == nil or v == '' then return 'null' end
	if not string.find(v, '"', 1, true) and not string.find(v, '\\', 1, true) then
		return '"' .. v .. '"'
	end
	return cjson.encode(v)
end

-- The start of every event of one message, up to its status: built once
-- and shared by the events a call writes for it (accepted and sending,
-- for one). Job and contact ids come from outside and are escaped (js_id);
-- message ids, kinds and channels are pregon's own names.
local function event_head(job, kind, mid, contact, channel)
	return '{"job":' .. js_id(job) .. ',"kind":' .. (kind and ('"' .. kind .. '"') or 'null')
		.. ',"message":' .. (mid and ('"' .. mid .. '"') or 'null')
		.. ',"contact":' .. js_id(contact)
		.. ',"channel":' .. ((channel and channel ~= '') and ('"' .. channel .. '"') or 'null')
		.. ',"status":"'
end

-- Appends an event to <p>events: head (event_head), then the status and
-- the rest. attempt is a string. Events carry ids, never an address or a
-- text.
local function event_h(head, status, attempt, provider_id, err, meaning)
	local e
	if not provider_id and not err and not meaning then
		e = head .. status .. '","attempt":' .. attempt .. ',"provider_id":null,"at":"'
			.. now_iso .. '","error":null,"meaning":null}'
	else
		e = head .. status .. '","attempt":' .. attempt .. ',"provider_id":' .. js(provider_id)
			.. ',"at":"' .. now_iso .. '","error":' .. js(err) .. ',"meaning":' .. js(meaning) .. '}'
	end
	redis.call('XADD', P .. 'events', 'MAXLEN', '~', maxlen, '*', 'event', e)
end

local function event(job, kind, mid, contact, channel, status, attempt, provider_id, err, meaning)
	if type(attempt) ~= 'string' then attempt = int_s(tonumber(attempt) or 0) end
	event_h(event_head(job, kind, mid, contact, channel), status, attempt, provider_id, err, meaning)
end

-- Moves a message's status and its job's counters together. Extra fields
-- for the message hash (provider_id, error, attempt) come in `...` as
-- name, value pairs and are written by the same HSET.
local function set_status(mkey, job, kind, channel, old, new, ...)
	redis.call('HSET', mkey, 'status', new, 'updated', now_s, ...)
	if old then count(job, kind, channel, old, -1) end
	count(job, kind, channel, new, 1)
end

-- Email addresses are compared in lower case (what people type varies).
local function consent_addr(channel, addr)
	if channel == 'email' then return string.lower(addr) end
	return addr
end

local function opted_out(channel, addr)
	return redis.call('SISMEMBER', P .. 'optout:' .. channel, consent_addr(channel, addr)) == 1
end

-- Seconds to keep a record: the retention period, counted from `at` (Unix
-- ms) when that is later than now.
local function keep_until(at)
	if at and at > now then
		return retention + math.ceil((at - now) / 1000)
	end
	return retention
end

-- keep_until() as a string for EXPIRE.
local function ttl_s(ttl)
	if ttl == retention then return retention_s end
	return string.format('%d', ttl)
end

-- The ready lane of a message: urgent alerts, then the answers to
-- inbound texts (lane 'answer' in the record: HELP and consent
-- confirmations, below alerts and above the rest), then normal work.
local function lane_of(urgent, lane)
	if urgent == '1' then return 'urgent' end
	if lane == 'answer' then return 'answer' end
	return 'normal'
end

-- Queues message mid on its ready stream. A message that waits out quiet
-- hours carries its recipient's zone (q), so that the engine can hold it
-- before claiming it (op hold) when it is read inside them.
local function queue_ready(channel, urgent, mid, qz, lane)
	local stream = P .. 'ready:' .. channel .. ':' .. lane_of(urgent, lane)
	if qz and qz ~= '' and urgent ~= '1' then
		redis.call('XADD', stream, '*', 'm', mid, 'q', qz)
	else
		redis.call('XADD', stream, '*', 'm', mid)
	end
end

-- Which messages hold a contact's addresses: contact_delete erases them
-- (contract section 2). A zset scored by when each record expires, so that
-- the ids of records already gone are dropped as new ones come (a contact
-- messaged every day would otherwise keep every id for ever). The key
-- lives as long as its longest record: EXPIRE GT lengthens a TTL and
-- never shortens one; only a key that has none yet (new) needs NX.
local function index_contact(contact, mid, ttl)
	local ck = P .. 'cmz:' .. contact
	local t = ttl_s(ttl)
	redis.call('ZADD', ck, string.format('%d', now + ttl * 1000), mid)
	-- NX: a new index gets its TTL; GT: an existing one only lengthens it,
	-- and drops what has expired.
	if redis.call('EXPIRE', ck, t, 'NX') == 0 then
		redis.call('EXPIRE', ck, t, 'GT')
		redis.call('ZREMRANGEBYSCORE', ck, '-inf', now_s)
	end
end

-- The send record the engine gets for a message it claims from a ready
-- stream.
--: record send verdict mid to payload attempt job contact urgent expires vars qz
-- A message the accept claimed at once: the intake knows the rest (its
-- own record of the job), so the reply carries no more than this.
--: record claimed mid channel entry

-- Creates a message on the first channel of `chain` that has an address
-- and is not opted out (contract section 2), queues it, and reports it.
-- m: job, kind, contact, chain (list), addr (channel -> address), d (the
-- payload as JSON: body, subject, chain, addr; stored as one field, since
-- every field of a hash costs on each write and read), urgent ('0'/'1'),
-- expires (ms or 0), due (ms or 0), rp (seconds a reply is matched to
-- this message, when its job has reply keywords; else nil), lane
-- ('answer' for the answers to inbound texts; else nil: by urgent), lang
-- (the recipient's language tag, or nil), why (why one due later waits:
-- quiet, send_at or offset; else nil).
-- Message ids are "m<job seq>.<n>", the seq being the job's first jobs
-- entry id (unique, and no counter to keep).
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
			if not m.bypass and opted_out(ch, m.addr[ch]) then
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
	elseif (m.expires > 0 and now >= m.expires) or m.past then
		status = 'expired'
	elseif m.due > now then
		status = 'scheduled'
	elseif m.room and (m.room[channel] or 0) > 0 then
		m.room[channel] = m.room[channel] - 1
		status = 'sending'
	end
	local to = m.addr[channel] or ''
	local attempt = status == 'sending' and '1' or '0'
	local expires = m.expires > 0 and string.format('%d', m.expires) or '0'
	-- One HSET with only the fields that say something: each field of a
	-- new hash is a search of its listpack. Absent means urgent 0,
	-- expires 0, no error, updated = created.
	local f = { mkey, 'job', m.job, 'kind', m.kind, 'contact', m.contact, 'channel', channel,
		'to', to, 'd', m.d, 'attempt', attempt, 'created', now_s, 'status', status }
	local n = #f
	if m.urgent == '1' then f[n + 1], f[n + 2], n = 'urgent', '1', n + 2 end
	if m.expires > 0 then f[n + 1], f[n + 2], n = 'expires', expires, n + 2 end
	if why then f[n + 1], f[n + 2], n = 'error', why, n + 2 end
	if m.bypass then f[n + 1], f[n + 2], n = 'bypass', '1', n + 2 end
	if m.rp then f[n + 1], f[n + 2], n = 'rp', m.rp, n + 2 end
	if m.qz and m.qz ~= '' then f[n + 1], f[n + 2], n = 'qz', m.qz, n + 2 end
	if m.lane then f[n + 1], f[n + 2], n = 'lane', m.lane, n + 2 end
	-- The recipient's language, for the answer to an English STOP from
	-- this address (result keeps it in lj:, inbound reads it there).
	if m.lang and m.lang ~= '' then f[n + 1], f[n + 2], n = 'lang', m.lang, n + 2 end
	-- Why a message created waiting waits (quiet, send_at, offset), for
	-- `pregon status`; hold and result set quiet and retry.
	if status == 'scheduled' and m.why and m.why ~= '' then
		f[n + 1], f[n + 2], n = 'why', m.why, n + 2
	end
	redis.call('HSET', unpack(f))
	-- Kept for the retention period after it is due (a reminder weeks
	-- ahead must not expire before it is sent).
	local ttl = keep_until(status == 'scheduled' and m.due or 0)
	redis.call('EXPIRE', mkey, ttl_s(ttl))
	if m.contact and m.contact ~= '' then index_contact(m.contact, mid, ttl) end
	count(m.job, m.kind, channel, status, 1)
	local head = event_head(m.job, m.kind, mid, m.contact, channel)
	event_h(head, 'accepted', '0')
	if status == 'accepted' then
		queue_ready(channel, m.urgent, mid, m.qz, m.lane)
	elseif status == 'sending' then
		event_h(head, 'sending', '1')
		-- The caller sets the entry that holds it.
		return mid, @claimed{ mid = mid, channel = channel, entry = '' }
	else
		if status == 'scheduled' then
			redis.call('ZADD', P .. 'scheduled', string.format('%d', m.due), mid)
		end
		event_h(head, status, '0', nil, why)
	end
	return mid
end

-- The cancel job that stopped job (a cancel naming it, contract 1.1), or
-- nil: <p>stop:<job>, kept as long as the job's records. A stopped job
-- gets no retry, no fallback and no new message.
local function stopped_by(job)
	return redis.call('GET', P .. 'stop:' .. job) or nil
end

-- Falls back to the channels after `channel` in the recipient's order
-- (contract section 2): a new message of the same job.
local function fall_back(mkey, mid, job, kind, contact, channel)
	if stopped_by(job) then return end
	local g = redis.call('HMGET', mkey, 'd', 'urgent', 'expires', 'rp', 'qz', 'lang')
	if not g[1] or g[1] == '' then return end	-- gone, or erased with its contact
	local d = cjson.decode(g[1])
	local rest, after = {}, false
	for _, ch in ipairs(d.chain or {}) do
		if after then rest[#rest + 1] = ch end
		if ch == channel then after = true end
	end
	if #rest > 0 then
		local jk = P .. 'job:' .. job
		local n = redis.call('HINCRBY', jk, 'messages', 1)
		if n == 1 then
			-- A job of one message has no hash until its first fallback.
			n = 2
			redis.call('HSET', jk, 'messages', n)
			redis.call('EXPIRE', jk, retention)
		end
		local fallback_mid = string.match(mid, '^(.*)%.%d+$') .. '.' .. int_s(n)
		create_message({ job = job, kind = kind, contact = contact, chain = rest,
			addr = d.addr, d = g[1], urgent = g[2] or '0',
			expires = tonumber(g[3]) or 0, due = 0, rp = g[4], qz = g[5], lang = g[6] },
			fallback_mid)
	end
end

-- Opts addr out of (or back into) channel and appends the change to the
-- address's consent ledger <p>consent:<address>, which never expires: an
-- organization must be able to show when and how a person opted out or
-- back in, also after the contact was deleted. Returns 1 if the state
-- changed, 0 if it already was so.
local function consent_change(channel, addr, action, source, detail)
	addr = consent_addr(channel, addr)
	local key = P .. 'optout:' .. channel
	local changed
	if action == 'out' then
		changed = redis.call('SADD', key, addr)
	else
		changed = redis.call('SREM', key, addr)
	end
	redis.call('RPUSH', P .. 'consent:' .. addr, '{"channel":' .. js(channel)
		.. ',"action":' .. js(action) .. ',"source":' .. js(source)
		.. ',"detail":' .. js(detail) .. ',"at":"' .. now_iso .. '","changed":'
		.. (changed == 1 and 'true' or 'false') .. '}')
	return changed
end

-- Cancels message mid if it has not gone out yet: accepted (in a ready
-- stream, where the claim skips it) or scheduled. f: its job, kind,
-- contact, channel, status, attempt. Returns true if it was cancelled.
local function cancel_message(mid, f, why)
	if f[5] ~= 'accepted' and f[5] ~= 'scheduled' then return false end
	set_status(P .. 'msg:' .. mid, f[1], f[2], f[4], f[5], 'cancelled', 'error', why)
	event(f[1], f[2], mid, f[3], f[4], 'cancelled', f[6], nil, why)
	redis.call('ZREM', P .. 'scheduled', mid)
	return true
end

-- A job's message ids are m<seq>.1 .. m<seq>.<n>: from its hash (seq,
-- messages), or for a job of one message from its seen key, which holds
-- the seq (the entry that carried it; a fallback gives it a hash with
-- the count).
local function job_messages(job)
	local j = redis.call('HMGET', P .. 'job:' .. job, 'seq', 'messages')
	local seq, n = j[1], tonumber(j[2])
	if not seq then
		seq = redis.call('GET', P .. 'seen:' .. job)
		if not seq then return nil, 0 end
		n = n or 1
	end
	return seq, n or 0
end
