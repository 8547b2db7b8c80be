-- alerts.lua: an action alert's audience, a batch at a time (expand), and
-- the record its acceptance writes (alert_accept, called by accept).

-- Records an action alert: the job's texts, reply keywords and audience
-- (a list, walked later; or the inline recipients, one list entry each),
-- and queues its expansion (<p>expand:<lane>, one entry per job, pending
-- in the group while an instance expands it).
local function alert_accept(id, kind, a, jk, seq)
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

--: op expand
--: head job batch lane entry
--: reply state created skipped total
-- One step of an alert's expansion (entry: the job's <p>expand:<lane>
-- entry): the next batch of its audience (SSCAN of the list from the
-- cursor kept in the job record, or the next slice of its inline
-- recipients) becomes messages, and the cursor moves, in one atomic step,
-- so a crash resumes at the last step written; steps may run from several
-- instances, since each reads and writes the cursor atomically. One
-- person, one message: a recipient sharing an address with one already
-- served is skipped (<p>xs:<job> holds SHA-1s of the addresses, never the
-- addresses; it also absorbs what SSCAN may return twice). state is done,
-- more, stopped (by a cancel job) or gone; total counts the job's
-- messages so far.
register('expand', function(a)
	local id, batch = a[@head.job], tonumber(a[@head.batch])
	local lane, entry = a[@head.lane], a[@head.entry]
	local jk = P .. 'job:' .. id
	local xstream = P .. 'expand:' .. lane
	local j = redis.call('HMGET', jk, 'x', 'src', 'list', 'xc', 'seq', 'messages', 'kind',
		'urgent', 'expires', 'tx', 'sj', 'tf', 'sf', 'dl', 'replies', 'rw', 'qz')
	-- A normal alert waits out each recipient's quiet hours (the engine
	-- holds it: qz in its record and ready entry); an urgent one ignores them.
	local quiet_default = (j[8] ~= '1' and j[17] and j[17] ~= '') and j[17] or nil
	if j[1] ~= 'run' then
		redis.call('XACK', xstream, group, entry)
		-- (stopped: by a cancel job, schedule.lua job_stop)
		local state = (j[1] == 'done' or j[1] == 'stopped') and j[1] or 'gone'
		return { [@reply.state] = state, [@reply.created] = 0,
			[@reply.skipped] = 0, [@reply.total] = 0 }
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
	-- Which recipients share an address with one served before: one
	-- SMISMEMBER and one SADD for the whole batch.
	local hashes, firsts = {}, {}
	for r, rc in ipairs(recips) do
		firsts[r] = #hashes + 1
		for ch, addr in pairs(rc.addr) do hashes[#hashes + 1] = redis.sha1hex(consent_addr(ch, addr)) end
	end
	local known = {}
	for i = 1, #hashes, 1000 do
		local part = redis.call('SMISMEMBER', seen, unpack(hashes, i, math.min(i + 999, #hashes)))
		for k = 1, #part do known[i + k - 1] = part[k] end
	end
	local batch_seen = {}
	for r, rc in ipairs(recips) do
		local last = (recips[r + 1] and firsts[r + 1] or #hashes + 1) - 1
		local dup = false
		for k = firsts[r], last do
			if known[k] == 1 or batch_seen[hashes[k]] then dup = true end
		end
		for k = firsts[r], last do batch_seen[hashes[k]] = true end
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
					chain = rc.chain, addr = rc.addr, ls = 1 }),
				urgent = j[8], expires = tonumber(j[9]) or 0, due = 0, rp = rp, qz = qz,
				lang = rc.lang },
				'm' .. seq .. '.' .. int_s(n))
		end
	end
	for i = 1, #hashes, 1000 do
		redis.call('SADD', seen, unpack(hashes, i, math.min(i + 999, #hashes)))
	end
	redis.call('HSET', jk, 'messages', n, 'xc', cursor)
	local total = redis.call('HINCRBY', jk, 'xn', created)
	redis.call('HINCRBY', jk, 'xdup', skipped)
	if finished then
		redis.call('HSET', jk, 'x', 'done')
		if total == 0 then
			-- A list name with a typo must not look like a success: a
			-- job-level event (no message) says why nothing went out, and
			-- `pregon status` shows it (xwhy). Neither names the list.
			local why = (j[3] and j[3] ~= '') and
				'audience is empty: no such list, or no member with an address' or
				'audience is empty: no recipient with an address'
			redis.call('HSET', jk, 'xwhy', why)
			event(id, j[7], nil, nil, nil, 'failed', 0, nil, why)
		end
		redis.call('DEL', seen, P .. 'xr:' .. id)
		redis.call('XACK', xstream, group, entry)
	else
		redis.call('EXPIRE', seen, retention)
	end
	return { [@reply.state] = finished and 'done' or 'more', [@reply.created] = created,
		[@reply.skipped] = skipped, [@reply.total] = total }
end)
