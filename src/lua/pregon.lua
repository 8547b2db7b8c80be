-- pregon.lua: every state change of jobs and messages, with its event, in
-- one atomic step (CONTRACT.md section 3; include/keys.h has the layout).
--
-- One script with an operation name, so that the helpers (event JSON, status
-- counters, time formatting) exist once. Keys are built from the prefix
-- inside the script: pregon targets a single Redis (not Cluster).
--
-- ARGV[1] op, ARGV[2] prefix, ARGV[3] events max_len, ARGV[4] retention
-- seconds, ARGV[5] dedupe seconds, ARGV[6] the caller's clock (Unix ms)
-- or '' for Redis' TIME, then the op's arguments. Only the test clock
-- (include/clock.h) passes a time: otherwise every instance decides by the
-- one clock they share.

local op, P, maxlen = ARGV[1], ARGV[2], ARGV[3]
local retention, dedupe = tonumber(ARGV[4]), tonumber(ARGV[5])
local group = 'pregon'	-- PREGON_GROUP in include/keys.h
local now
if ARGV[6] ~= '' then
	now = tonumber(ARGV[6])
else
	local t = redis.call('TIME')
	now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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

-- Seconds to keep a record: the retention period, counted from `at` (Unix
-- ms) when that is later than now.
local function keep_until(at)
	if at and at > now then
		return retention + math.ceil((at - now) / 1000)
	end
	return retention
end

local function lane_of(urgent)
	if urgent == '1' then return 'urgent' end
	return 'normal'
end

-- Queues message mid on its ready stream. A message that waits out quiet
-- hours carries its recipient's zone (q), so that the engine can hold it
-- before claiming it (op hold) when it is read inside them.
local function queue_ready(channel, urgent, mid, qz)
	local stream = P .. 'ready:' .. channel .. ':' .. lane_of(urgent)
	if qz and qz ~= '' and urgent ~= '1' then
		redis.call('XADD', stream, '*', 'm', mid, 'q', qz)
	else
		redis.call('XADD', stream, '*', 'm', mid)
	end
end

-- Creates a message on the first channel of `chain` that has an address
-- and is not opted out (contract section 2), queues it, and reports it.
-- m: job, kind, contact, chain (list), addr (channel -> address), d (the
-- payload as JSON: body, subject, chain, addr; stored as one field, since
-- every field of a hash costs on each write and read), urgent ('0'/'1'),
-- expires (ms or 0), due (ms or 0), rp (seconds a reply is matched to
-- this message, when its job has reply keywords; else nil).
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
	redis.call('HSET', mkey, 'job', m.job, 'kind', m.kind, 'contact', m.contact,
		'channel', channel, 'to', to, 'd', m.d,
		'attempt', attempt, 'urgent', m.urgent, 'expires', string.format('%d', m.expires),
		'created', now_s, 'status', status, 'updated', now_s, 'error', why or '')
	if m.bypass then
		redis.call('HSET', mkey, 'bypass', '1')
	end
	if m.rp then
		redis.call('HSET', mkey, 'rp', m.rp)
	end
	if m.qz and m.qz ~= '' then
		redis.call('HSET', mkey, 'qz', m.qz)
	end
	-- Kept for the retention period after it is due (a reminder weeks
	-- ahead must not expire before it is sent).
	local ttl = keep_until(status == 'scheduled' and m.due or 0)
	redis.call('EXPIRE', mkey, ttl)
	-- Which messages hold this contact's addresses: contact_delete erases
	-- them (contract section 2). Scored by when the record expires, so
	-- that ids of records already gone are dropped as new ones come: a
	-- contact messaged every day would otherwise keep every id for ever
	-- (the key's TTL is refreshed by each message).
	if m.contact and m.contact ~= '' then
		local ck = P .. 'cmz:' .. m.contact
		redis.call('ZADD', ck, now + ttl * 1000, mid)
		redis.call('ZREMRANGEBYSCORE', ck, '-inf', now_s)
		if redis.call('TTL', ck) < ttl then redis.call('EXPIRE', ck, ttl) end
	end
	redis.call('HINCRBY', P .. 'job:' .. m.job, 'c:' .. channel .. ':' .. status, '1')
	event(m.job, m.kind, mid, m.contact, channel, 'accepted', 0)
	if status == 'accepted' then
		queue_ready(channel, m.urgent, mid, m.qz)
	elseif status == 'sending' then
		event(m.job, m.kind, mid, m.contact, channel, 'sending', 1)
		-- The claim's record (below), then the channel (and the caller
		-- appends the job's entry).
		return mid, { 'send', mid, to, m.d, 1, m.job, m.contact, m.urgent,
			string.format('%d', m.expires), '', m.qz or '', channel }
	else
		if status == 'scheduled' then
			redis.call('ZADD', P .. 'scheduled', m.due, mid)
		end
		event(m.job, m.kind, mid, m.contact, channel, status, 0, nil, why)
	end
	return mid
end


-- Falls back to the channels after `channel` in the recipient's order
-- (contract section 2): a new message of the same job.
local function fall_back(mkey, mid, job, kind, contact, channel)
	local g = redis.call('HMGET', mkey, 'd', 'urgent', 'expires', 'rp', 'qz')
	if not g[1] or g[1] == '' then return end	-- gone, or erased with its contact
	local d = cjson.decode(g[1])
	local rest, after = {}, false
	for _, ch in ipairs(d.chain or {}) do
		if after then rest[#rest + 1] = ch end
		if ch == channel then after = true end
	end
	if #rest > 0 then
		local n = redis.call('HINCRBY', P .. 'job:' .. job, 'messages', 1)
		local fallback_mid = string.match(mid, '^(m%d+)%.') .. '.' .. n
		create_message({ job = job, kind = kind, contact = contact, chain = rest,
			addr = d.addr, d = g[1], urgent = g[2],
			expires = tonumber(g[3]) or 0, due = 0, rp = g[4], qz = g[5] }, fallback_mid)
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

-- Where provider feedback can move a message, by rank: a callback never
-- moves it back (a late "sent" after "delivered").
-- A reply outranks them all: whoever answers got the message.
local feedback_rank = { sent = 1, delivered = 2, undelivered = 2, failed = 2, read = 3, replied = 4 }

-- Applies provider feedback (a status callback) to message mid.
local function apply_feedback(mid, status, err, provider_id)
	local mkey = P .. 'msg:' .. mid
	local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status', 'attempt')
	local job, kind, contact, channel, cur = f[1], f[2], f[3], f[4], f[5]
	if not job then return 'stale' end
	local have, want = feedback_rank[cur], feedback_rank[status]
	if not have or not want then return 'stale' end
	if want <= have then return 'ignored' end
	if err ~= '' then
		set_status(mkey, job, channel, cur, status, 'error', err)
	else
		set_status(mkey, job, channel, cur, status)
	end
	event(job, kind, mid, contact, channel, status, f[6], provider_id, err)
	if status == 'failed' or status == 'undelivered' then
		fall_back(mkey, mid, job, kind, contact, channel)
	end
	return 'applied'
end

-- The reply keywords of a job, keyword (lower case) -> meaning.
local function reply_keywords(jk)
	local raw = redis.call('HGET', jk, 'replies')
	if not raw or raw == '' then return nil end
	local out = {}
	for kw, meaning in pairs(cjson.decode(raw)) do out[string.lower(kw)] = meaning end
	return out
end

-- Indexes a stream entry that holds a text from this address (<p>inbound,
-- <p>replies:<job>) under <p>ia:<channel>:<address>, so that
-- contact_delete can erase the person's words with their address.
-- Members are "<entry id> <stream key without the prefix>", scored by
-- when the entry expires, so that a sender who writes often does not keep
-- the ids of entries long trimmed (the key's TTL is refreshed each time).
local function index_text(channel, from, stream, id)
	local ik = P .. 'ia:' .. channel .. ':' .. consent_addr(channel, from)
	redis.call('ZADD', ik, now + retention * 1000, id .. ' ' .. stream)
	redis.call('ZREMRANGEBYSCORE', ik, '-inf', now_s)
	redis.call('EXPIRE', ik, retention)
end

-- Matches an inbound text to the latest message that asked this address
-- for a reply (<p>rto:<channel>:<address>, set when it was sent, kept for
-- the job's reply window). A keyword records `replied` with its meaning;
-- the person's latest meaning is the one counted (<p>job: r:<meaning>).
-- Anything else is a free-text reply, kept with the job (<p>replies:<job>,
-- never in events) and counted (rtext). norm is the text as the caller
-- folded it; keywords are folded with string.lower (ASCII).
-- Returns nil (no message asked), or {meaning, contact, job}.
local function match_reply(channel, from, text, norm, sid)
	local mid = redis.call('GET', P .. 'rto:' .. channel .. ':' .. consent_addr(channel, from))
	if not mid then return nil end
	local mkey = P .. 'msg:' .. mid
	local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status', 'attempt', 'meaning')
	local job, kind, contact, mch, cur = f[1], f[2], f[3], f[4], f[5]
	if not job then return nil end
	local jk = P .. 'job:' .. job
	if norm == '' then norm = string.lower(string.match(text, '^%s*(.-)%s*$')) end
	local kws = reply_keywords(jk) or {}
	local meaning = kws[norm]
	if meaning then
		if f[7] == meaning then return { meaning = meaning, contact = contact, job = job } end
		if f[7] and f[7] ~= '' then redis.call('HINCRBY', jk, 'r:' .. f[7], -1) end
		redis.call('HINCRBY', jk, 'r:' .. meaning, 1)
	else
		redis.call('HINCRBY', jk, 'rtext', 1)
		local rk = P .. 'replies:' .. job
		local id = redis.call('XADD', rk, '*', 'message', mid, 'contact', contact or '', 'channel', channel,
			'text', text, 'at', now_iso, 'provider_id', sid)
		redis.call('EXPIRE', rk, retention)
		index_text(channel, from, 'replies:' .. job, id)
	end
	-- A message still being sent keeps its status; the reply is recorded.
	if feedback_rank[cur] and cur ~= 'replied' then
		set_status(mkey, job, mch, cur, 'replied', 'meaning', meaning or f[7] or '')
	elseif meaning then
		redis.call('HSET', mkey, 'meaning', meaning)
	end
	event(job, kind, mid, contact, mch, 'replied', f[6], nil, nil, meaning)
	return { meaning = meaning, contact = contact or '', job = job }
end

-- ---- contacts and lists (contract section 2) ----
--
-- <p>contact:<id>  hash: name, phone, email, signal, lang, tz, channels
--                  (comma-separated), lists (JSON array), updated, source
-- <p>contacts      set of contact ids; <p>list:<name> set of contact ids;
-- <p>lists         set of list names that have members
-- <p>cmz:<id>      zset of the message ids that hold the contact's address,
--                  scored by when their records expire

local function str(v)
	if type(v) == 'string' then return v end
	return ''
end

local function json_array(t)
	if #t == 0 then return '[]' end
	return cjson.encode(t)
end

-- Names in order, each once.
local function unique(list)
	local out, seen = {}, {}
	for _, v in ipairs(list) do
		if type(v) == 'string' and not seen[v] then
			seen[v] = true
			out[#out + 1] = v
		end
	end
	return out
end

local function list_remove(name, id)
	redis.call('SREM', P .. 'list:' .. name, id)
	if redis.call('SCARD', P .. 'list:' .. name) == 0 then
		redis.call('SREM', P .. 'lists', name)
	end
end

-- Creates or replaces contact c (a recipient object, already validated
-- and normalised by the caller) and its memberships: mode keep (as they
-- are), set (exactly `lists`) or add (and `lists`).
local function contact_upsert(c, mode, lists, source)
	local id = c.id
	local ck = P .. 'contact:' .. id
	local existed = redis.call('EXISTS', ck) == 1
	local raw = redis.call('HGET', ck, 'lists')
	local old = (raw and raw ~= '') and cjson.decode(raw) or {}
	local new
	if mode == 'set' then
		new = unique(lists)
	elseif mode == 'add' then
		new = {}
		for _, v in ipairs(old) do new[#new + 1] = v end
		for _, v in ipairs(lists) do new[#new + 1] = v end
		new = unique(new)
	else
		new = unique(old)
	end
	local keep = {}
	for _, name in ipairs(new) do keep[name] = true end
	for _, name in ipairs(old) do
		if not keep[name] then list_remove(name, id) end
	end
	for _, name in ipairs(new) do
		redis.call('SADD', P .. 'list:' .. name, id)
		redis.call('SADD', P .. 'lists', name)
	end
	local chans = {}
	if type(c.channels) == 'table' then
		for _, ch in ipairs(c.channels) do chans[#chans + 1] = str(ch) end
	end
	redis.call('DEL', ck)
	redis.call('HSET', ck, 'name', str(c.name), 'phone', str(c.phone), 'email', str(c.email),
		'signal', str(c.signal), 'lang', str(c.lang), 'tz', str(c.tz),
		'channels', table.concat(chans, ','), 'lists', json_array(new),
		'updated', now_s, 'source', str(source))
	redis.call('SADD', P .. 'contacts', id)
	return existed and 'updated' or 'created'
end

-- Cancels message mid if it has not gone out yet: accepted (in a ready
-- stream, where the claim skips it) or scheduled. f: its job, kind,
-- contact, channel, status, attempt. Returns true if it was cancelled.
local function cancel_message(mid, f, why)
	if f[5] ~= 'accepted' and f[5] ~= 'scheduled' then return false end
	set_status(P .. 'msg:' .. mid, f[1], f[4], f[5], 'cancelled', 'error', why)
	event(f[1], f[2], mid, f[3], f[4], 'cancelled', f[6], nil, why)
	redis.call('ZREM', P .. 'scheduled', mid)
	return true
end

-- Erases contact id: its record, its list memberships, the addresses in
-- its message records (which keep the contact id, status and counts) and
-- the address-keyed reply and last-job pointers. Messages not yet sent to
-- it are cancelled. The opt-out sets and consent ledgers stay: consent
-- must survive deletion.
local function contact_delete(id)
	local ck = P .. 'contact:' .. id
	local existed = redis.call('EXISTS', ck) == 1
	local c = redis.call('HMGET', ck, 'phone', 'email', 'signal', 'lists')
	local addrs = {}
	local function forget(ch, a)
		if a and a ~= '' then addrs[#addrs + 1] = { ch, a } end
	end
	forget('sms', c[1])
	forget('signal', c[1])
	forget('email', c[2])
	forget('signal', c[3])
	forget('sms', c[3])
	if c[4] and c[4] ~= '' then
		for _, name in ipairs(cjson.decode(c[4])) do list_remove(name, id) end
	end
	redis.call('DEL', ck)
	redis.call('SREM', P .. 'contacts', id)
	-- (cm:<id> is the set it was before cmz:, until it expires.)
	local mk, legacy = P .. 'cmz:' .. id, P .. 'cm:' .. id
	local mids = redis.call('ZRANGE', mk, 0, -1)
	for _, mid in ipairs(redis.call('SMEMBERS', legacy)) do mids[#mids + 1] = mid end
	for _, mid in ipairs(mids) do
		local mkey = P .. 'msg:' .. mid
		local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status',
			'attempt', 'to')
		if f[1] then
			forget(f[4], f[7])
			cancel_message(mid, { f[1], f[2], id, f[4], f[5], f[6] }, 'contact deleted')
			redis.call('HSET', mkey, 'to', '', 'd', '', 'erased', '1')
		end
	end
	redis.call('DEL', mk, legacy)
	for _, a in ipairs(addrs) do
		local addr = consent_addr(a[1], a[2])
		local ik = P .. 'ia:' .. a[1] .. ':' .. addr
		-- What the person wrote goes with their address (the contract
		-- keeps texts only in the inbound stream and the records).
		for _, ref in ipairs(redis.call('ZRANGE', ik, 0, -1)) do
			local id, stream = string.match(ref, '^(%S+) (.+)$')
			if id then redis.call('XDEL', P .. stream, id) end
		end
		redis.call('DEL', P .. 'last:' .. a[1] .. ':' .. addr, P .. 'rto:' .. a[1] .. ':' .. addr, ik)
	end
	return existed and 'deleted' or 'absent'
end

-- Records an action alert: the job's texts, reply keywords and audience
-- (a list, walked later; or the inline recipients, one list entry each),
-- and queues its expansion (<p>expand:<lane>, one entry per job, pending
-- in the group while an instance expands it).
local function alert_accept(id, kind, a, jk)
	local seq = redis.call('INCR', P .. 'jobseq')
	local src = a.list and 'list' or 'inline'
	redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'seq', seq, 'messages', 0,
		'urgent', a.urgent and '1' or '0', 'expires', string.format('%d', tonumber(a.expires) or 0),
		'tx', str(a.tx), 'tf', str(a.tf), 'sj', str(a.sj), 'sf', str(a.sf), 'dl', str(a.dl),
		'replies', str(a.replies), 'rw', string.format('%d', tonumber(a.rw) or 0),
		'segments', str(a.segments), 'src', src, 'list', str(a.list), 'qz', str(a.qz),
		'xc', '0', 'xn', 0, 'xdup', 0, 'x', 'run')
	redis.call('EXPIRE', jk, retention)
	if src == 'inline' then
		local xr = P .. 'xr:' .. id
		local rc = a.rc or {}
		for i = 1, #rc, 100 do
			redis.call('RPUSH', xr, unpack(rc, i, math.min(i + 99, #rc)))
		end
		redis.call('EXPIRE', xr, retention)
	end
	redis.call('XADD', P .. 'expand:' .. lane_of(a.urgent and '1' or '0'), '*', 'job', id)
end

-- ---- court reminders (contract section 2) ----
--
-- <p>case:<ref>   hash: recipient id -> the job whose reminders are pending
-- <p>job:<id>     also: vars (the template values, JSON), sig (date, time
--                 and place: a replacement with another sig gets a notice)

-- Cancels the messages of job that have not gone out yet (accepted: in a
-- ready stream, where the claim skips it; scheduled). Returns how many.
local function cancel_job(job, why)
	local j = redis.call('HMGET', P .. 'job:' .. job, 'seq', 'messages')
	if not j[1] then return 0 end
	local n = 0
	for k = 1, tonumber(j[2]) or 0 do
		local mid = 'm' .. j[1] .. '.' .. k
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
local function court_accept(id, kind, c, jk)
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
	local seq = redis.call('INCR', P .. 'jobseq')
	local ttl = keep_until(tonumber(c.at))
	redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'seq', seq, 'messages', 0,
		'vars', c.vars, 'sig', c.sig, 'at', string.format('%d', tonumber(c.at) or 0),
		'case', c.ref, 'replaced', prev or '')
	local n = 0
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
			create_message(m, 'm' .. seq .. '.' .. n)
		end
	end
	redis.call('HSET', jk, 'messages', n)
	redis.call('EXPIRE', jk, ttl)
	redis.call('HSET', ck, c.rid, id)
	if redis.call('TTL', ck) < ttl then redis.call('EXPIRE', ck, ttl) end
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

-- accept: ARGV[7] the caller's room per channel ("sms=n,email=n,signal=n"),
-- then ARGV[8..] in fours, one per jobs-stream entry: a JSON record, the
-- raw job text, the rejection reason ('' if valid) and the reason as events
-- may carry it (without the offending value, which may be an address).
-- The record:
--   {"e": entry id, "id": job id or null, "kind": kind or null,
--    "gone": true (entry deleted before we read it: acknowledge only),
--    "msgs": [{"contact","chain":[...],"addr":{...},"d": payload JSON,
--              "urgent":0|1,"expires":ms,"due":ms}],
--    or, for an action alert, "alert": {"urgent", "expires", "tx" (texts by
--    language, JSON), "tf" (the first language), "sj"/"sf" (subjects, the
--    same), "dl" (default language), "replies" (JSON or absent), "rw" (reply
--    window, s), "segments" (JSON), "list" or "rc" (inline recipients, each
--    a JSON {"c","chain","addr","lang"})},
--    or "contact" (a normalised recipient) with "lists" (absent: keep), or
--    "contact_id" (delete)}
-- Returns {statuses, sends}: one status per entry (accepted, expand: an
-- alert whose expansion is queued, rejected, duplicate, retried, gone),
-- and a send record per
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
					-- is gone. Queue what is still in flight. (Only a
					-- "message" job is claimed at once; an alert read
					-- early by the urgent scan comes back here too.)
					local j = redis.call('HMGET', jk, 'seq', 'messages', 'kind')
					local n = j[3] == 'message' and (tonumber(j[2]) or 0) or 0
					for k = 1, n do
						local mid = 'm' .. j[1] .. '.' .. k
						local f = redis.call('HMGET', P .. 'msg:' .. mid, 'status', 'channel', 'urgent', 'qz')
						if f[1] == 'sending' then
							queue_ready(f[2], f[3], mid, f[4])
						end
					end
					out[#out + 1] = 'retried'
				end
			elseif r.court then
				court_accept(id, kind, r.court, jk)
				out[#out + 1] = 'accepted'
			elseif r.cancel then
				court_cancel(id, kind, r.cancel, jk)
				out[#out + 1] = 'accepted'
			elseif r.alert then
				alert_accept(id, kind, r.alert, jk)
				out[#out + 1] = 'expand'
			elseif r.contact or r.contact_id then
				local result
				if r.contact then
					result = contact_upsert(r.contact, type(r.lists) == 'table' and 'set' or 'keep',
						type(r.lists) == 'table' and r.lists or {}, 'crm job ' .. id)
				else
					result = contact_delete(r.contact_id)
				end
				local contact = r.contact and r.contact.id or r.contact_id
				redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'result', result,
					'contact', contact)
				redis.call('EXPIRE', jk, retention)
				event(id, kind, nil, contact, nil, 'accepted', 0, nil, nil)
				out[#out + 1] = 'accepted'
			else
				local seq = redis.call('INCR', P .. 'jobseq')
				local last_due = 0
				redis.call('HSET', jk, 'kind', kind, 'created', now_s, 'seq', seq, 'messages', #r.msgs)
				for k, m in ipairs(r.msgs) do
					m.job, m.kind = id, kind
					m.urgent = (m.urgent == 1 or m.urgent == true) and '1' or '0'
					m.expires = tonumber(m.expires) or 0
					m.due = tonumber(m.due) or 0
					last_due = math.max(last_due, m.due)
					if #r.msgs == 1 then m.room = room end
					local _, send = create_message(m, 'm' .. seq .. '.' .. k)
					if send then
						send[#send + 1] = r.e
						sends[#sends + 1] = send
						ack = false
					end
				end
				-- As long as its messages: a send_at months ahead keeps it.
				redis.call('EXPIRE', jk, keep_until(last_due))
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
-- Returns, per entry, {verdict, mid, to, payload (JSON), attempt, job,
-- contact, urgent, expires, vars (a templated message's job values, or ''),
-- qz (the zone whose quiet hours hold it, or '')}
-- where verdict is "send" (now in status sending) or "skip" (acknowledged:
-- final, expired, suppressed or gone).
if op == 'claim' then
	local out = {}
	for i = 7, #ARGV, 4 do
		local channel, lane, entry, mid = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
		local stream = P .. 'ready:' .. channel .. ':' .. lane
		local mkey = P .. 'msg:' .. mid
		local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status',
			'attempt', 'urgent', 'expires', 'to', 'd', 'bypass', 'erased', 'qz')
		local job, kind, contact, mch, status = f[1], f[2], f[3], f[4], f[5]
		local verdict = 'skip'
		if not job or mch ~= channel then
			-- record expired or belongs elsewhere: nothing to send
		elseif status == 'accepted' or status == 'scheduled' or status == 'sending' then
			local expires = tonumber(f[8]) or 0
			if f[12] then
				-- Its contact was deleted while it was being sent.
				set_status(mkey, job, channel, status, 'cancelled', 'error', 'contact deleted')
				event(job, kind, mid, contact, channel, 'cancelled', f[6], nil, 'contact deleted')
			elseif expires > 0 and now >= expires then
				set_status(mkey, job, channel, status, 'expired')
				event(job, kind, mid, contact, channel, 'expired', f[6])
			elseif not f[11] and opted_out(channel, f[9]) then
				set_status(mkey, job, channel, status, 'suppressed', 'error', 'opted out')
				event(job, kind, mid, contact, channel, 'suppressed', f[6], nil, 'opted out')
			else
				local attempt = (tonumber(f[6]) or 0) + 1
				set_status(mkey, job, channel, status, 'sending', 'attempt', attempt)
				event(job, kind, mid, contact, channel, 'sending', attempt)
				verdict = 'send'
				-- A templated message is rendered from its job's values.
				local vars = ''
				if f[10] and string.find(f[10], '"tpl":', 1, true) then
					vars = redis.call('HGET', P .. 'job:' .. job, 'vars') or ''
				end
				out[#out + 1] = { 'send', mid, f[9], f[10], attempt, job, contact,
					f[7], f[8] or '0', vars, f[13] or '' }
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
-- message id, attempt, outcome, provider id or error, delay before the
-- retry (ms, for temp and defer). Outcomes: sent; temp (retried, the
-- attempt counts); defer (not attempted: the provider's circuit is open;
-- retried without counting); perm (failed, falls back to the next
-- channel); optout (perm, and the provider says the recipient opted out
-- at the carrier: the address is opted out of the channel too).
-- A provider id other than the message id is mapped back to the message
-- for status callbacks, and the address to its contact and job for
-- replies (<p>pid:<id>, <p>last:<channel>:<address>).
-- A result for an attempt that is no longer current (the message was
-- reclaimed and sent again elsewhere) changes nothing but the ack.
if op == 'result' then
	local max_attempts = tonumber(ARGV[7])
	local out, acks = {}, {}
	for i = 8, #ARGV, 8 do
		local channel, lane, entry, mid = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
		local attempt, outcome, detail, due = tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6], tonumber(ARGV[i + 7])
		local mkey = P .. 'msg:' .. mid
		local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status', 'attempt',
			'to', 'rp')
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
				-- A reply from this address within the window answers the
				-- latest message sent to it that asked for one.
				if f[8] and f[7] and f[7] ~= '' then
					redis.call('SET', P .. 'rto:' .. channel .. ':' .. consent_addr(channel, f[7]),
						mid, 'EX', f[8])
				end
				if detail ~= mid and detail ~= '' and (f[7] or '') ~= '' then
					redis.call('SET', P .. 'pid:' .. detail, mid, 'EX', retention)
					local lk = P .. 'last:' .. channel .. ':' .. consent_addr(channel, f[7] or '')
					redis.call('HSET', lk, 'contact', contact or '', 'job', job)
					redis.call('EXPIRE', lk, retention)
					-- A callback may beat this result here.
					local fk = P .. 'fb:' .. detail
					local early = redis.call('HMGET', fk, 'status', 'error')
					if early[1] then
						redis.call('DEL', fk)
						apply_feedback(mid, early[1], early[2] or '', detail)
					end
				end
			elseif outcome == 'temp' then
				set_status(mkey, job, channel, status, 'scheduled', 'error', detail)
				redis.call('ZADD', P .. 'scheduled', now + due, mid)
				event(job, kind, mid, contact, channel, 'scheduled', attempt, nil, detail)
			elseif outcome == 'defer' then
				set_status(mkey, job, channel, status, 'scheduled', 'error', detail,
					'attempt', attempt - 1)
				redis.call('ZADD', P .. 'scheduled', now + due, mid)
				event(job, kind, mid, contact, channel, 'scheduled', attempt - 1, nil, detail)
			else
				if outcome == 'optout' then
					consent_change(channel, f[7] or '', 'out', 'carrier', detail)
				end
				set_status(mkey, job, channel, status, 'failed', 'error', detail)
				event(job, kind, mid, contact, channel, 'failed', attempt, nil, detail)
				fall_back(mkey, mid, job, kind, contact, channel)
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

-- hold: ARGV[7..] in fives: channel, lane, entry id, message id, due (ms).
-- Ready entries the engine read inside their recipient's quiet hours: the
-- message goes back to the schedule until the window opens, without being
-- claimed (no `sending`, no attempt), and the entry is acknowledged. A
-- message no longer waiting (cancelled, final) is only acknowledged.
-- A court reminder is never held past its appearance (a late text beats
-- none: a missed date means a warrant): when the window opens only after
-- it expires, it loses its zone and is queued again to go now.
if op == 'hold' then
	local held = 0
	for i = 7, #ARGV, 5 do
		local channel, lane, entry, mid, due = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
			tonumber(ARGV[i + 4])
		local mkey = P .. 'msg:' .. mid
		local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status', 'attempt',
			'expires', 'urgent')
		local expires = tonumber(f[7]) or 0
		-- (sending: a claimed message queued again, after its instance died)
		if not (f[1] and f[4] == channel and due and
			(f[5] == 'accepted' or f[5] == 'scheduled' or f[5] == 'sending')) then
			-- nothing waits: acknowledged below
		elseif f[2] == 'court_reminder' and expires > 0 and due >= expires then
			redis.call('HSET', mkey, 'qz', '')
			queue_ready(channel, f[8], mid, nil)
		else
			set_status(mkey, f[1], channel, f[5], 'scheduled', 'error', 'held by quiet hours')
			redis.call('ZADD', P .. 'scheduled', due, mid)
			event(f[1], f[2], mid, f[3], channel, 'scheduled', f[6], nil, 'held by quiet hours')
			held = held + 1
		end
		redis.call('XACK', P .. 'ready:' .. channel .. ':' .. lane, group, entry)
	end
	return held
end

-- tick: ARGV[7] batch size. Moves due messages from the schedule to their
-- ready stream. Returns {moved, ms until the next due one or -1}.
if op == 'tick' then
	local due = redis.call('ZRANGEBYSCORE', P .. 'scheduled', '-inf', now, 'LIMIT', 0, tonumber(ARGV[7]))
	for _, mid in ipairs(due) do
		local f = redis.call('HMGET', P .. 'msg:' .. mid, 'status', 'channel', 'urgent', 'qz')
		if f[1] == 'scheduled' then
			queue_ready(f[2], f[3], mid, f[4])
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
					-- LIMIT 0: with "~" Redis otherwise removes at most 10,000
					-- entries a call (100 x stream-node-max-entries), and at
					-- one call per 10 s a stream filling faster than 1,000/s
					-- was never trimmed down (bench/bench_schedule.py). Whole
					-- nodes are freed: cheap even for 100,000s of entries.
					trimmed = trimmed + redis.call('XTRIM', key, 'MINID', '~', minid, 'LIMIT', 0)
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
	local action = ARGV[9]
	if action ~= 'out' and action ~= 'in' then
		return redis.error_reply('consent: action must be out or in')
	end
	return consent_change(ARGV[7], ARGV[8], action, ARGV[10], ARGV[11])
end

-- feedback: ARGV[7] provider message id, ARGV[8] status (sent, delivered,
-- undelivered, failed, read), ARGV[9] error ('' if none). Moves the message
-- the provider id belongs to, never backwards. A callback that comes
-- before the send's result is written is kept (<p>fb:<id>, an hour) and
-- applied by the result. Returns applied, ignored (a regression or a
-- repeat), early, or stale (no such message any more).
if op == 'feedback' then
	local pid, status, err = ARGV[7], ARGV[8], ARGV[9]
	if not feedback_rank[status] then
		return redis.error_reply('feedback: unknown status')
	end
	local mid = redis.call('GET', P .. 'pid:' .. pid)
	if not mid then
		local fk = P .. 'fb:' .. pid
		local have = redis.call('HGET', fk, 'status')
		if not have or feedback_rank[status] > feedback_rank[have] then
			redis.call('HSET', fk, 'status', status, 'error', err)
			redis.call('EXPIRE', fk, 3600)
		end
		return 'early'
	end
	return apply_feedback(mid, status, err, pid)
end

-- inbound: ARGV[7] channel, ARGV[8] sender's address, ARGV[9] text,
-- ARGV[10] provider message id, ARGV[11] intent (none, stop, start, help),
-- ARGV[12] the keyword that decided, ARGV[13] the answer to send ('' for
-- none), ARGV[14] the answer's message kind, ARGV[15] the text as reply
-- keywords are matched (trimmed, case-folded; see match_reply). Once per
-- provider message id (providers retry webhooks): a repeat returns
-- 'duplicate'. Consent words
-- change consent (source keyword) and are answered once per change; HELP
-- is always answered, opted out or not (carriers require it). Anything
-- else goes to <p>inbound for a person to answer, with the contact and
-- the job last sent to that address when known; a reply to an alert that
-- asked for one is matched first (match_reply). Returns the intent's
-- outcome: inbound, replied (a keyword), reply-text (free text to an
-- alert, also put on <p>inbound), stop, stop-repeat, start, start-repeat,
-- help.
if op == 'inbound' then
	local channel, from, text, sid = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
	local intent, keyword, answer, answer_kind = ARGV[11], ARGV[12], ARGV[13], ARGV[14]
	if not redis.call('SET', P .. 'inb:' .. sid, '1', 'NX', 'EX', retention) then
		return 'duplicate'
	end
	local last = redis.call('HMGET', P .. 'last:' .. channel .. ':' .. consent_addr(channel, from),
		'contact', 'job')
	local result = intent
	if intent == 'stop' or intent == 'start' then
		local changed = consent_change(channel, from, intent == 'stop' and 'out' or 'in',
			'keyword', keyword .. ' ' .. sid)
		if changed == 0 then
			answer = ''
			result = intent .. '-repeat'
		end
	elseif intent ~= 'help' then
		local contact, job = last[1] or '', last[2] or ''
		local replied = match_reply(channel, from, text, ARGV[15] or '', sid)
		if replied then
			if replied.meaning then return 'replied' end
			contact, job = replied.contact, replied.job
			result = 'reply-text'
		else
			result = 'inbound'
		end
		local id = redis.call('XADD', P .. 'inbound', 'MINID', '~',
			string.format('%d', now - retention * 1000), '*',
			'contact', contact, 'channel', channel, 'from', from, 'text', text,
			'at', now_iso, 'job', job, 'provider_id', sid)
		index_text(channel, from, 'inbound', id)
		return result
	end
	if answer ~= '' then
		-- The answer is a job of its own, so that it is tracked, retried
		-- and counted like any message.
		local id = answer_kind .. '-' .. sid
		local jk = P .. 'job:' .. id
		local seq = redis.call('INCR', P .. 'jobseq')
		redis.call('HSET', jk, 'kind', answer_kind, 'created', now_s, 'seq', seq, 'messages', 1)
		redis.call('EXPIRE', jk, retention)
		local addr = {}
		addr[channel] = from
		local d = cjson.encode({ body = answer, subject = '', chain = { channel }, addr = addr })
		create_message({ job = id, kind = answer_kind, contact = last[1] or '', chain = { channel },
			addr = addr, d = d, urgent = '1', expires = now + 86400000, due = 0,
			bypass = true }, 'm' .. seq .. '.1')
	end
	return result
end

-- contacts: ARGV[7] source (kept with the contact: "import people.csv"),
-- then in fours: action (upsert or delete), payload (upsert: the
-- normalised contact JSON; delete: the contact id), list mode (keep, set,
-- add) and lists (JSON array). Each contact is written whole, so an
-- import stopped at any point leaves complete contacts only. Returns
-- created, updated, deleted or absent per contact.
if op == 'contacts' then
	local out = {}
	for i = 8, #ARGV, 4 do
		local action = ARGV[i]
		if action == 'upsert' then
			local c = cjson.decode(ARGV[i + 1])
			if type(c) ~= 'table' or type(c.id) ~= 'string' or c.id == '' then
				return redis.error_reply('contacts: upsert needs a contact with an id')
			end
			local mode = ARGV[i + 2]
			if mode ~= 'keep' and mode ~= 'set' and mode ~= 'add' then
				return redis.error_reply('contacts: list mode must be keep, set or add')
			end
			local lists = cjson.decode(ARGV[i + 3] ~= '' and ARGV[i + 3] or '[]')
			if type(lists) ~= 'table' then lists = {} end
			out[#out + 1] = contact_upsert(c, mode, lists, ARGV[7])
		elseif action == 'delete' then
			out[#out + 1] = contact_delete(ARGV[i + 1])
		else
			return redis.error_reply('contacts: action must be upsert or delete')
		end
	end
	return out
end

-- The channels of a contact record in order, keeping those with an
-- address; without any, the default order (sms, email, signal).
local default_chain = { 'sms', 'email', 'signal' }
local function contact_chain(channels, addr)
	local chain = {}
	for ch in string.gmatch(channels or '', '[^,]+') do
		if addr[ch] then chain[#chain + 1] = ch end
	end
	if #chain == 0 then
		for _, ch in ipairs(default_chain) do
			if addr[ch] then chain[#chain + 1] = ch end
		end
	end
	return chain
end

-- The text for a language: its own, else its primary language's ("es"
-- for "es-MX"), else the default language's, else the first given.
local function text_for(texts, lang, dl, first)
	if not texts then return '' end
	if lang and lang ~= '' then
		if texts[lang] then return texts[lang] end
		local primary = string.match(lang, '^(%a+)%-')
		if primary and texts[primary] then return texts[primary] end
	end
	return texts[dl] or texts[first] or ''
end

-- expand: ARGV[7] job id, ARGV[8] batch size, ARGV[9] lane, ARGV[10] the
-- job's <p>expand:<lane> entry. One step of an alert's expansion: the next
-- batch of its audience (SSCAN of the list from the cursor kept in the job
-- record, or the next slice of its inline recipients) becomes messages,
-- and the cursor moves, in one atomic step, so a crash resumes at the last
-- step written; steps may run from several instances, since each reads
-- and writes the cursor atomically. One person, one message: a recipient
-- sharing an address with one already served is skipped (<p>xs:<job>
-- holds SHA-1s of the addresses, never the addresses; it also absorbs what
-- SSCAN may return twice). Returns {done|more|gone, created, skipped,
-- messages of the job so far}.
if op == 'expand' then
	local id, batch, lane, entry = ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
	local jk = P .. 'job:' .. id
	local xstream = P .. 'expand:' .. lane
	local j = redis.call('HMGET', jk, 'x', 'src', 'list', 'xc', 'seq', 'messages', 'kind',
		'urgent', 'expires', 'tx', 'sj', 'tf', 'sf', 'dl', 'replies', 'rw', 'qz')
	-- A normal alert waits out each recipient's quiet hours (the engine
	-- holds it: qz in its record and ready entry); an urgent one ignores them.
	local quiet_default = (j[8] ~= '1' and j[17] and j[17] ~= '') and j[17] or nil
	if j[1] ~= 'run' then
		redis.call('XACK', xstream, group, entry)
		return { j[1] == 'done' and 'done' or 'gone', 0, 0 }
	end
	local recips, cursor, finished = {}, j[4], false
	if j[2] == 'list' then
		local res = redis.call('SSCAN', P .. 'list:' .. j[3], cursor, 'COUNT', batch)
		cursor = res[1]
		finished = cursor == '0'
		for _, cid in ipairs(res[2]) do
			local c = redis.call('HMGET', P .. 'contact:' .. cid, 'phone', 'email', 'signal',
				'lang', 'channels', 'tz')
			local addr = {}
			if c[1] and c[1] ~= '' then addr.sms = c[1] end
			if c[2] and c[2] ~= '' then addr.email = c[2] end
			if c[3] and c[3] ~= '' then addr.signal = c[3] end
			local chain = contact_chain(c[5], addr)
			if #chain > 0 then
				recips[#recips + 1] = { c = cid, chain = chain, addr = addr, lang = c[4], tz = c[6] }
			end
		end
	else
		local from = tonumber(cursor) or 0
		local items = redis.call('LRANGE', P .. 'xr:' .. id, from, from + batch - 1)
		for _, raw in ipairs(items) do recips[#recips + 1] = cjson.decode(raw) end
		cursor = string.format('%d', from + #items)
		finished = #items < batch
	end
	local texts = cjson.decode(j[10])
	local subjects = (j[11] and j[11] ~= '') and cjson.decode(j[11]) or nil
	local rp = nil
	if j[15] and j[15] ~= '' and (tonumber(j[16]) or 0) > 0 then rp = j[16] end
	local n, seq = tonumber(j[6]) or 0, j[5]
	local seen = P .. 'xs:' .. id
	local created, skipped = 0, 0
	for _, rc in ipairs(recips) do
		local hashes = {}
		for ch, a in pairs(rc.addr) do hashes[#hashes + 1] = redis.sha1hex(consent_addr(ch, a)) end
		local known = redis.call('SMISMEMBER', seen, unpack(hashes))
		local dup = false
		for _, k in ipairs(known) do if k == 1 then dup = true end end
		redis.call('SADD', seen, unpack(hashes))
		if dup then
			skipped = skipped + 1
		else
			n = n + 1
			created = created + 1
			local body = text_for(texts, rc.lang, j[14], j[12])
			local subject = subjects and text_for(subjects, rc.lang, j[14], j[13]) or ''
			local qz = nil
			if quiet_default then
				qz = (type(rc.tz) == 'string' and rc.tz ~= '') and rc.tz or quiet_default
			end
			create_message({ job = id, kind = j[7], contact = rc.c, chain = rc.chain,
				addr = rc.addr, d = cjson.encode({ body = body, subject = subject,
					chain = rc.chain, addr = rc.addr }),
				urgent = j[8], expires = tonumber(j[9]) or 0, due = 0, rp = rp, qz = qz },
				'm' .. seq .. '.' .. n)
		end
	end
	redis.call('HSET', jk, 'messages', n, 'xc', cursor)
	local total = redis.call('HINCRBY', jk, 'xn', created)
	redis.call('HINCRBY', jk, 'xdup', skipped)
	if finished then
		redis.call('HSET', jk, 'x', 'done')
		redis.call('DEL', seen, P .. 'xr:' .. id)
		redis.call('XACK', xstream, group, entry)
	else
		redis.call('EXPIRE', seen, retention)
	end
	return { finished and 'done' or 'more', created, skipped, total }
end

-- rate: ARGV[7] channel, ARGV[8] messages per second, ARGV[9] burst,
-- ARGV[10] tokens wanted, ARGV[11] unspent tokens given back. GCRA: the key
-- holds the theoretical arrival time (TAT, ms) of the next message; a
-- message may leave when TAT - now <= burst * T, T = 1000 / rate. Grants
-- as many of the wanted tokens as that allows and returns {granted, ms
-- until the next token is due}.
if op == 'rate' then
	local key = P .. 'rate:' .. ARGV[7]
	local rate, burst = tonumber(ARGV[8]), tonumber(ARGV[9])
	local want, refund = tonumber(ARGV[10]), tonumber(ARGV[11])
	if not rate or rate <= 0 or not burst or burst < 1 or not want or not refund then
		return redis.error_reply('rate: bad arguments')
	end
	local T = 1000 / rate
	local tau = burst * T
	local tat = tonumber(redis.call('GET', key)) or now
	if tat < now then tat = now end
	if refund > 0 then tat = math.max(now, tat - refund * T) end
	local room = math.floor((now + tau - tat) / T + 1e-9)
	if room < 0 then room = 0 end
	local granted = math.min(want, room)
	tat = tat + granted * T
	local wait = 0
	if granted < want then
		wait = math.max(1, math.ceil(tat + T - tau - now))
	end
	redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now + tau) + 1000)
	return { granted, wait }
end

-- depth: ARGV[7..] stream keys. For each, the entries our group has not
-- read yet (lag) plus those read and not acknowledged (pending); then the
-- number of scheduled messages. Returns {n1, n2, ..., scheduled}.
if op == 'depth' then
	local out = {}
	for i = 7, #ARGV do
		local n = 0
		if redis.call('EXISTS', ARGV[i]) == 1 then
			for _, g in ipairs(redis.call('XINFO', 'GROUPS', ARGV[i])) do
				local info = {}
				for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
				if info['name'] == group then
					local lag = tonumber(info['lag'])
					if not lag then lag = 0 end
					n = lag + (tonumber(info['pending']) or 0)
				end
			end
		end
		out[#out + 1] = n
	end
	out[#out + 1] = redis.call('ZCARD', P .. 'scheduled')
	return out
end

-- mqtt: the MQTT event publisher's lease, cursor and reads
-- (src/mqtt_events.c). One instance publishes at a time: the one holding
-- <p>mqtt:leader (its consumer name, with a PX expiry). <p>mqtt:cursor is
-- a hash: id, the last <p>events entry whose PUBACK arrived (and every
-- entry before it); n, its ordinal in the stream's history (XINFO
-- entries-added when it was added, -1 unknown), which tells how many
-- entries MAXLEN trimmed before they were published; by; at. Only the
-- lease holder moves the cursor, and only forward. ARGV[7] is the action:
--   init                   creates the cursor if missing, at the end of
--                          the stream (MQTT carries events from then on,
--                          not the history). Returns {id, n}.
--   hold C MS [ID N]       takes or renews the lease for consumer C for
--                          MS ms and, when held, saves the cursor ID N.
--                          Returns {1, id, n} (the stored cursor) or
--                          {0, holder}.
--   release C [ID N]       saves the cursor and drops the lease, if C
--                          holds it. Returns 1, else 0.
--   read ID N COUNT        up to COUNT entries after ID (ordinal N).
--                          Returns {skipped, n0, resume, id1, event1,
--                          id2, ...}. When entries after ID were trimmed
--                          unread (MAXLEN removes the oldest, so the
--                          entries with ordinals up to entries-added -
--                          length are gone), resume is an id just below
--                          the first entry left, n0 its ordinal and
--                          skipped how many; otherwise resume is '' and
--                          n0 = N.
-- XINFO's entries-added and recorded-first-entry-id exist from Redis 7.0;
-- before that nothing is reported as skipped.
if op == 'mqtt' then
	local action = ARGV[7]
	local lkey, ckey, skey = P .. 'mqtt:leader', P .. 'mqtt:cursor', P .. 'events'
	local function id_less(a, b)
		local am, as = string.match(a or '', '^(%d+)-(%d+)$')
		local bm, bs = string.match(b or '', '^(%d+)-(%d+)$')
		if not am or not bm then return false end
		am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
		return am < bm or (am == bm and as < bs)
	end
	local function stream_info()
		if redis.call('EXISTS', skey) == 0 then return nil end
		local flat = redis.call('XINFO', 'STREAM', skey)
		local info = {}
		for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
		return info
	end
	local function save(id, n, by)
		if not id or id == '' then return end
		local cur = redis.call('HGET', ckey, 'id')
		if cur and not id_less(cur, id) then return end
		redis.call('HSET', ckey, 'id', id, 'n', n or '-1', 'by', by, 'at', now_iso)
	end
	if action == 'init' then
		local c = redis.call('HMGET', ckey, 'id', 'n')
		if c[1] then return { c[1], c[2] or '-1' } end
		local id, n = '0-0', '0'
		local info = stream_info()
		if info then
			id = info['last-generated-id'] or '0-0'
			n = info['entries-added'] and string.format('%d', info['entries-added']) or '-1'
		end
		redis.call('HSET', ckey, 'id', id, 'n', n, 'by', 'init', 'at', now_iso)
		return { id, n }
	end
	if action == 'hold' then
		local me, ms = ARGV[8], ARGV[9]
		local holder = redis.call('GET', lkey)
		if holder and holder ~= me then return { 0, holder } end
		redis.call('SET', lkey, me, 'PX', ms)
		save(ARGV[10], ARGV[11], me)
		local c = redis.call('HMGET', ckey, 'id', 'n')
		return { 1, c[1] or '0-0', c[2] or '-1' }
	end
	if action == 'release' then
		local me = ARGV[8]
		if redis.call('GET', lkey) ~= me then return 0 end
		save(ARGV[9], ARGV[10], me)
		redis.call('DEL', lkey)
		return 1
	end
	if action == 'read' then
		local from, n, count = ARGV[8], tonumber(ARGV[9]) or -1, tonumber(ARGV[10]) or 100
		local info = stream_info()
		if not info then return { 0, n, '' } end
		local skipped, resume = 0, ''
		local added, len = tonumber(info['entries-added']), tonumber(info['length'])
		local first = info['recorded-first-entry-id']
		if n >= 0 and added and len and first and added - len > n then
			skipped = added - len - n
			if len == 0 then
				resume = info['last-generated-id']
			else
				local ms, seq = string.match(first, '^(%d+)-(%d+)$')
				if tonumber(seq) > 0 then
					resume = ms .. '-' .. string.format('%d', tonumber(seq) - 1)
				else
					resume = string.format('%d', tonumber(ms) - 1) .. '-18446744073709551615'
				end
			end
			n, from = added - len, resume
		end
		local out = { skipped, n, resume }
		for _, e in ipairs(redis.call('XRANGE', skey, '(' .. from, '+', 'COUNT', count)) do
			local ev = ''
			for j = 1, #e[2], 2 do
				if e[2][j] == 'event' then ev = e[2][j + 1] end
			end
			out[#out + 1] = e[1]
			out[#out + 1] = ev
		end
		return out
	end
	return redis.error_reply('mqtt: unknown action ' .. tostring(action))
end

return redis.error_reply('pregon.lua: unknown op ' .. tostring(op))
