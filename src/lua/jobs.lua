-- jobs.lua: jobs from the queue (accept) and the contacts they and
-- `pregon contacts` keep (CONTRACT.md sections 1 and 2).
--
-- <p>contact:<id>  hash: name, phone, email, signal, lang, tz, channels
--                  (comma-separated), lists (JSON array), updated, source
-- <p>contacts      set of contact ids; <p>list:<name> set of contact ids;
-- <p>lists         set of list names that have members
-- <p>cmz:<id>      zset of the message ids that hold the contact's address,
--                  scored by when their records expire
-- <p>dx:<name>     zset of the <p>dead entries that name a contact id
--                  (c:<id>) or an address (a:<address>), scored by when
--                  the entry is trimmed (include/dead_index.h)

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

-- Dead letters (<p>dead: job, reason, at) keep whole jobs, addresses and
-- texts included, so they have a life span: MAXLEN [events] max_len here,
-- and [events] retention_days by MINID in the trim op (infra.lua); and
-- contact_delete erases those that name the person, found through
-- <p>dx:<name> for each name the intake read in the job (names; see
-- include/dead_index.h). An index is scored by when its entries go (the
-- entry's own time, Redis' clock, plus the retention), pruned as entries
-- are added (also of the entries MAXLEN trimmed), and lives as long as
-- its last entry.
local function dead_letter(raw, reason, names)
	local id = redis.call('XADD', P .. 'dead', 'MAXLEN', '~', maxlen, '*', 'job', raw,
		'reason', reason, 'at', now_iso)
	if type(names) ~= 'table' or #names == 0 then return end
	local ms = tonumber(string.match(id, '^(%d+)'))
	local score = string.format('%d', ms + retention * 1000)
	-- What is gone: expired (the entry's time plus the retention is
	-- past), or older than the stream's first entry (MAXLEN trimmed it),
	-- so that a flood naming one number cannot grow its index past what
	-- the stream keeps. Exclusive: an entry of the first one's ms may
	-- still be there (ids of one ms differ by their sequence only).
	local first = redis.call('XRANGE', P .. 'dead', '-', '+', 'COUNT', 1)[1]
	local first_ms = first and tonumber(string.match(first[1], '^(%d+)')) or ms
	local past = '(' .. string.format('%d', math.max(ms, first_ms + retention * 1000))
	for _, name in ipairs(names) do
		if type(name) == 'string' and name ~= '' then
			local k = P .. 'dx:' .. name
			redis.call('ZADD', k, score, id)
			-- NX: a new index gets its TTL; GT: an existing one only
			-- lengthens it, and drops what has been trimmed.
			if redis.call('EXPIRE', k, retention_s, 'NX') == 0 then
				redis.call('EXPIRE', k, retention_s, 'GT')
				redis.call('ZREMRANGEBYSCORE', k, '-inf', past)
			end
		end
	end
end

-- Erases the dead letters that name any of names (dead_letter).
local function dead_erase(names)
	for _, name in ipairs(names) do
		local k = P .. 'dx:' .. name
		local ids = redis.call('ZRANGE', k, 0, -1)
		-- In slices: unpack() of more than a few thousand values fails
		-- (Lua's C stack), and anyone who can publish jobs can make that
		-- many dead letters name one number.
		for i = 1, #ids, 500 do
			redis.call('XDEL', P .. 'dead', unpack(ids, i, math.min(i + 499, #ids)))
		end
		redis.call('DEL', k)
	end
end

-- Erases contact id: its record, its list memberships, the addresses in
-- its message records (which keep the contact id, status and counts), the
-- dead letters that name it or its addresses, and the address-keyed reply
-- and last-job pointers. Messages not yet sent to
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
	local dead_names = { 'c:' .. id }
	for _, a in ipairs(addrs) do dead_names[#dead_names + 1] = 'a:' .. consent_addr(a[1], a[2]) end
	dead_erase(dead_names)
	for _, a in ipairs(addrs) do
		local addr = consent_addr(a[1], a[2])
		local ik = P .. 'ia:' .. a[1] .. ':' .. addr
		-- What the person wrote goes with their address (the contract
		-- keeps texts only in the inbound stream and the records).
		for _, ref in ipairs(redis.call('ZRANGE', ik, 0, -1)) do
			local eid, stream = string.match(ref, '^(%S+) (.+)$')
			if eid then redis.call('XDEL', P .. stream, eid) end
		end
		-- ha: and ca: (the answers' limits) would keep the address for a
		-- day more; erasing them allows at most one more answer.
		redis.call('DEL', P .. 'lj:' .. a[1] .. ':' .. addr, P .. 'last:' .. a[1] .. ':' .. addr,
			P .. 'rto:' .. a[1] .. ':' .. addr, ik, P .. 'ha:' .. a[1] .. ':' .. addr,
			P .. 'ca:' .. a[1] .. ':' .. addr)
	end
	return existed and 'deleted' or 'absent'
end

-- The record of a message job in its flat form (intake.c flat_message):
-- fields after "M", tab-separated, the payload last. Returns a table of
-- the shape cjson gives the JSON record.
local function flat_message(rec)
	local e, id, contact, chain, sms, email, signal, urgent, expires, due, qz, lang, why, d =
		string.match(rec,
		'^M\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$')
	if not e then return nil end
	local m = { contact = contact, chain = {}, addr = {}, d = d, urgent = urgent,
		expires = tonumber(expires), due = tonumber(due), lang = lang, why = why }
	if not string.find(chain, ',', 1, true) then
		m.chain[1] = chain
	else
		for ch in string.gmatch(chain, '[^,]+') do m.chain[#m.chain + 1] = ch end
	end
	if sms ~= '' then m.addr.sms = sms end
	if email ~= '' then m.addr.email = email end
	if signal ~= '' then m.addr.signal = signal end
	if qz ~= '' then m.qz = qz end
	return { e = e, id = id, kind = 'message', msgs = { m } }
end

--: op accept
--: head room
--: each record raw reason public_reason
--: reply statuses sends
-- room: what the caller can send now per channel ("sms=n,email=n,signal=n").
-- One group per jobs-stream entry: a JSON record, the raw job text, the
-- rejection reason ('' if valid) and the reason as events may carry it
-- (without the offending value, which may be an address). The record:
--   {"e": entry id, "id": job id or null, "kind": kind or null,
--    "gone": true (entry deleted before we read it: acknowledge only),
--    "msgs": [{"contact","chain":[...],"addr":{...},"d": payload JSON,
--              "urgent":0|1,"expires":ms,"due":ms,"lang","why"}],
--    or, for an action alert, "alert": {"urgent", "expires", "tx" (texts by
--    language, JSON), "tf" (the first language), "sj"/"sf" (subjects, the
--    same), "dl" (default language), "replies" (JSON or absent), "rw" (reply
--    window, s), "segments" (JSON), "list" or "rc" (inline recipients, each
--    a JSON {"c","chain","addr","lang"})},
--    or "court" (court_accept), "cancel" (a case ref), "stop" (the id of
--    a job to stop: job_stop), "townhall" (townhall_accept), "evcancel"
--    (an event ref: townhall_cancel),
--    or "contact" (a normalised recipient) with "lists" (absent: keep), or
--    "contact_id" (delete); and "unknown", the job's fields this version
--    does not know, by name (job_parse.c), kept in its hash}
-- statuses: one per entry (accepted, expand: an alert whose expansion is
-- queued, stopped: a cancel that stopped a job, rejected, duplicate,
-- retried, gone); sends: a claimed record per
-- message claimed at once (the fast path: a job of one message, due now,
-- with room on its channel). Such a job's entry is NOT acknowledged here:
-- it stays pending in the jobs group as the message's lease, and the
-- result acknowledges it. If the instance dies first, the entry is
-- reclaimed, comes back here as "retried", and its message is queued.
-- Idempotent by job id: <p>seen:<id> holds the entry that first carried
-- the id, which also names the job's messages: m<entry>.1, m<entry>.2 ...
register('accept', function(a)
	local out, sends = {}, {}
	local recent = {}	-- <p>recent: the jobs accepted, by when (the API's list)
	local stops_here = false	-- a cancel by job id among the entries
	local room = {}
	for ch, n in string.gmatch(a[@head.room], '(%a+)=(%d+)') do room[ch] = tonumber(n) end
	for i = @first, #a, @n do
		local rec = a[i + @each.record]
		local r
		if string.byte(rec, 1) == 77 then	-- 'M'
			r = flat_message(rec)
			if not r then return redis.error_reply('accept: malformed message record') end
		else
			r = cjson.decode(rec)
		end
		local raw, reason = a[i + @each.raw], a[i + @each.reason]
		local id = r.id
		if type(id) ~= 'string' then id = nil end
		local kind = r.kind
		if type(kind) ~= 'string' then kind = nil end
		local ack = true
		if r.gone then
			out[#out + 1] = 'gone'
		elseif reason ~= '' then
			dead_letter(raw, reason, r.dx)
			event(id, kind, nil, nil, nil, 'rejected', 0, nil, a[i + @each.public_reason])
			out[#out + 1] = 'rejected'
		else
			local seen_key = P .. 'seen:' .. id
			local jk = P .. 'job:' .. id
			-- The job's messages are m<entry>.1, m<entry>.2 ...
			local seq = r.e
			if not redis.call('SET', seen_key, seq, 'NX', 'EX', a[4]) then
				if redis.call('GET', seen_key) ~= r.e then
					event(id, kind, nil, nil, nil, 'duplicate', 0)
					out[#out + 1] = 'duplicate'
				else
					-- This entry was accepted before and not acknowledged:
					-- its message was claimed at once by an instance that
					-- is gone. Queue what is still in flight. (Only a
					-- "message" job is claimed at once; an alert read
					-- early by the urgent scan comes back here too.)
					local s, n = job_messages(id)
					local jkind = redis.call('HGET', jk, 'kind')
					if jkind and jkind ~= 'message' then n = 0 end
					for k = 1, n do
						local mid = 'm' .. s .. '.' .. int_s(k)
						local f = redis.call('HMGET', P .. 'msg:' .. mid, 'status', 'channel', 'urgent', 'qz')
						if f[1] == 'sending' then
							queue_ready(f[2], f[3], mid, f[4])
						end
					end
					out[#out + 1] = 'retried'
				end
			elseif r.court then
				court_accept(id, kind, r.court, jk, seq)
				out[#out + 1] = 'accepted'
			elseif r.cancel then
				court_cancel(id, kind, r.cancel, jk)
				out[#out + 1] = 'accepted'
			elseif r.townhall then
				townhall_accept(id, kind, r.townhall, jk, seq)
				out[#out + 1] = 'accepted'
			elseif r.evcancel then
				townhall_cancel(id, kind, r.evcancel, jk, seq)
				out[#out + 1] = 'accepted'
			elseif r.stop then
				stops_here = true
				local n = job_stop(id, kind, r.stop, jk)
				out[#out + 1] = n and 'stopped' or 'accepted'
			elseif r.alert then
				alert_accept(id, kind, r.alert, jk, seq)
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
				-- A message job: one message (and later its fallbacks),
				-- found through the seen key; no job hash (see single).
				local last_due = 0
				for k, m in ipairs(r.msgs) do
					m.job, m.kind = id, kind
					m.urgent = (m.urgent == 1 or m.urgent == true or m.urgent == '1') and '1' or '0'
					m.expires = tonumber(m.expires) or 0
					m.due = tonumber(m.due) or 0
					last_due = math.max(last_due, m.due)
					if #r.msgs == 1 then m.room = room end
					local _, send = create_message(m, 'm' .. seq .. '.' .. int_s(k))
					if send then
						send[@claimed.entry] = r.e	-- its lease: see above
						sends[#sends + 1] = send
						ack = false
					end
				end
				-- The seen key finds the messages as long as they are kept
				-- (a send_at months ahead), and dedupes for dedupe_days.
				local keep = keep_until(last_due)
				if keep > dedupe then redis.call('EXPIRE', seen_key, ttl_s(keep)) end
				out[#out + 1] = 'accepted'
			end
			-- The names of the fields this version does not know (a
			-- message job's are in its payload): a typo is on record.
			local st = out[#out]
			if type(r.unknown) == 'string' and st ~= 'duplicate' and st ~= 'retried' then
				redis.call('HSET', jk, 'unknown', r.unknown)
			end
			if st ~= 'duplicate' and st ~= 'retried' then
				recent[#recent + 1] = now_s
				recent[#recent + 1] = id
			end
		end
		if ack then
			redis.call('XACK', P .. 'jobs', group, r.e)
		end
	end
	-- One write per batch; what is older than the retention goes.
	if #recent > 0 then
		local rk = P .. 'recent'
		redis.call('ZADD', rk, unpack(recent))
		redis.call('ZREMRANGEBYSCORE', rk, '-inf', string.format('(%d', now - retention * 1000))
	end
	-- A cancel in this very batch may have stopped a job whose message
	-- was claimed at once above: it has reached no adapter yet (this
	-- reply hands it over), so it is cancelled here instead of sent.
	if stops_here and #sends > 0 then
		local keep = {}
		for _, send in ipairs(sends) do
			local mid = send[@claimed.mid]
			local mkey = P .. 'msg:' .. mid
			local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status',
				'attempt')
			local stop = f[1] and f[5] == 'sending' and stopped_by(f[1])
			if stop then
				set_status(mkey, f[1], f[2], f[4], f[5], 'cancelled', 'error', 'cancelled by job ' .. stop)
				event(f[1], f[2], mid, f[3], f[4], 'cancelled', f[6], nil, 'cancelled by job ' .. stop)
				redis.call('XACK', P .. 'jobs', group, send[@claimed.entry])
			else
				keep[#keep + 1] = send
			end
		end
		sends = keep
	end
	return { [@reply.statuses] = out, [@reply.sends] = sends }
end)

--: op contacts
--: head source
--: each action payload list_mode lists
-- source is kept with each contact ("import people.csv"). action upsert
-- (payload: the normalised contact JSON; list_mode keep, set or add;
-- lists a JSON array) or delete (payload: the contact id). Each contact is
-- written whole, so an import stopped at any point leaves complete
-- contacts only. Returns created, updated, deleted or absent per contact.
register('contacts', function(a)
	local out = {}
	for i = @first, #a, @n do
		local action = a[i + @each.action]
		if action == 'upsert' then
			local c = cjson.decode(a[i + @each.payload])
			if type(c) ~= 'table' or type(c.id) ~= 'string' or c.id == '' then
				return redis.error_reply('contacts: upsert needs a contact with an id')
			end
			local mode = a[i + @each.list_mode]
			if mode ~= 'keep' and mode ~= 'set' and mode ~= 'add' then
				return redis.error_reply('contacts: list mode must be keep, set or add')
			end
			local lists = cjson.decode(a[i + @each.lists] ~= '' and a[i + @each.lists] or '[]')
			if type(lists) ~= 'table' then lists = {} end
			out[#out + 1] = contact_upsert(c, mode, lists, a[@head.source])
		elseif action == 'delete' then
			out[#out + 1] = contact_delete(a[i + @each.payload])
		else
			return redis.error_reply('contacts: action must be upsert or delete')
		end
	end
	return out
end)
