-- api.lua: what the JSON API reads and writes (CONTRACT.md section 4;
-- src/api/api.c). Nothing here returns an address or a text: the API's
-- answers are built from what these ops give.

--: op api_submit
--: head id job
--: reply outcome entry
-- POST /v1/jobs: a job already validated by the same parser as the
-- queue's. One already seen (seen:<id>: the intake accepted it) is not
-- queued again: outcome 'seen' (the API answers 200 with its state);
-- else it is added to <p>jobs, the one way in, as any producer would:
-- 'queued' and the entry id. (Two POSTs of one id before the intake read
-- the first are both queued; the intake's dedupe answers the second
-- with a `duplicate` event, as for the queue.)
register('api_submit', function(a)
	local id = a[@head.id]
	if redis.call('EXISTS', P .. 'seen:' .. id) == 1 then
		return { [@reply.outcome] = 'seen', [@reply.entry] = '' }
	end
	local e = redis.call('XADD', P .. 'jobs', '*', 'job', a[@head.job])
	return { [@reply.outcome] = 'queued', [@reply.entry] = e }
end)

-- The fields of a job's hash the API may show: counts and ids, never
-- the template values (names, a court's address) or where notices go.
local job_public = { kind = true, created = true, messages = true, x = true, xn = true,
	xdup = true, rtext = true, result = true, target = true, event = true, case = true,
	replaced = true, expires = true, urgent = true }

-- The fields of a message record the API may show.
local msg_public = { kind = true, channel = true, status = true, attempt = true,
	created = true, updated = true, error = true, provider_id = true, contact = true }

--: op job_state
--: head id
--: reply seen job msg
-- GET /v1/jobs/{id}: seen: the entry that first carried the id, or ''
-- (never accepted: queued, or unknown); job: the public fields of its
-- hash, flat (name, value ...), with its counters (c:<channel>:<status>,
-- r:<meaning>); msg: for a job of one message (no hash, or a hash
-- without kind), its record's public fields, flat.
register('job_state', function(a)
	local id = a[@head.id]
	local seen = redis.call('GET', P .. 'seen:' .. id) or ''
	local out, msg, has_kind = {}, {}, false
	local h = redis.call('HGETALL', P .. 'job:' .. id)
	for i = 1, #h, 2 do
		local k = h[i]
		if job_public[k] or string.sub(k, 1, 2) == 'c:' or string.sub(k, 1, 2) == 'r:' then
			out[#out + 1] = k
			out[#out + 1] = h[i + 1]
		end
		if k == 'kind' then has_kind = true end
	end
	if seen ~= '' and not has_kind then
		local f = redis.call('HGETALL', P .. 'msg:m' .. seen .. '.1')
		for i = 1, #f, 2 do
			if msg_public[f[i]] then
				msg[#msg + 1] = f[i]
				msg[#msg + 1] = f[i + 1]
			end
		end
	end
	return { [@reply.seen] = seen, [@reply.job] = out, [@reply.msg] = msg }
end, { 'no-writes' })

-- A JSON array of already encoded items (cjson writes an empty table as
-- an object).
local function json_list(items)
	return '[' .. table.concat(items, ',') .. ']'
end

-- The public fields of a hash's flat HGETALL, filtered by allow, as a
-- table; counters (c:, r:) only when with_counts.
local function public_of(flat, allow, with_counts)
	local t = {}
	for i = 1, #flat, 2 do
		local k = flat[i]
		if allow[k] or (with_counts and (string.sub(k, 1, 2) == 'c:' or string.sub(k, 1, 2) == 'r:')) then
			t[k] = flat[i + 1]
		end
	end
	return t
end

--: op api_jobs
--: head before since limit kind
--: reply json next
-- GET /v1/jobs: the jobs accepted (<p>recent), newest first: after the
-- cursor `before` ("<score>:<id>" of the last one given; '' for the
-- newest), at or after `since` (ms; '' for the retention's start), at
-- most `limit`, only of `kind` when given. Jobs of one batch share a
-- score: Redis gives equal scores in reverse order of the id, so the
-- cursor skips those of its score whose id is not below its own. Each
-- job: id, its public fields and counters (a job of one message: its
-- record's kind, status, channel). next: the cursor of the next page,
-- or '' at the end.
register('api_jobs', function(a)
	local max, bs, bid = '+inf', nil, nil
	if a[@head.before] ~= '' then
		bs, bid = string.match(a[@head.before], '^(%d+):(.+)$')
		if not bs then return redis.error_reply('api_jobs: bad cursor') end
		max = bs
	end
	local since = a[@head.since] ~= '' and a[@head.since] or '-inf'
	local limit = tonumber(a[@head.limit]) or 50
	local kind = a[@head.kind]
	local items, nxt, offset = {}, '', 0
	-- Pages of the index until limit jobs of the kind are found (a kind
	-- filter may skip many), reading at most 10 pages.
	for _ = 1, 10 do
		local ids = redis.call('ZREVRANGEBYSCORE', P .. 'recent', max, since, 'WITHSCORES',
			'LIMIT', offset, limit)
		offset = offset + #ids / 2
		for i = 1, #ids, 2 do
			local id, at = ids[i], ids[i + 1]
			if not (bs and at == bs and id >= bid) then
				local t = public_of(redis.call('HGETALL', P .. 'job:' .. id), job_public, true)
				if not t.kind then
					local seq = redis.call('GET', P .. 'seen:' .. id)
					if seq then
						local m = public_of(redis.call('HGETALL', P .. 'msg:m' .. seq .. '.1'),
							msg_public, false)
						t.kind, t.status, t.channel = m.kind, m.status, m.channel
					end
				end
				if t.kind and (kind == '' or t.kind == kind) then
					t.id = id
					t.created = t.created or at
					items[#items + 1] = cjson.encode(t)
					if #items == limit then
						nxt = at .. ':' .. id
						break
					end
				end
			end
		end
		if #items == limit or #ids < 2 * limit then break end
	end
	return { [@reply.json] = json_list(items), [@reply.next] = nxt }
end, { 'no-writes' })

--: op api_messages
--: head id from limit reveal
--: reply json next found
-- GET /v1/jobs/{id}/messages: the job's messages from number `from` (1
-- first), at most `limit`: id, channel, status, attempts, error,
-- provider id, contact, created, updated; the address (`to`) only with
-- reveal = '1' (an admin token). next: the `from` of the next page, or
-- ''. found: 0 for a job never accepted.
register('api_messages', function(a)
	local seq, total = job_messages(a[@head.id])
	if not seq then
		return { [@reply.json] = '[]', [@reply.next] = '', [@reply.found] = 0 }
	end
	local from, limit = tonumber(a[@head.from]) or 1, tonumber(a[@head.limit]) or 100
	local reveal = a[@head.reveal] == '1'
	local items, last = {}, from - 1
	for k = from, math.min(total, from + limit - 1) do
		local mid = 'm' .. seq .. '.' .. int_s(k)
		local flat = redis.call('HGETALL', P .. 'msg:' .. mid)
		last = k
		if #flat > 0 then
			local t = public_of(flat, msg_public, false)
			t.id = mid
			t.attempts = tonumber(t.attempt) or 0
			t.attempt = nil
			if reveal then
				for i = 1, #flat, 2 do
					if flat[i] == 'to' then t.to = flat[i + 1] end
				end
			end
			local due = redis.call('ZSCORE', P .. 'scheduled', mid)
			if due then t.due = due end
			items[#items + 1] = cjson.encode(t)
		end
	end
	return { [@reply.json] = json_list(items),
		[@reply.next] = last < total and int_s(last + 1) or '', [@reply.found] = 1 }
end, { 'no-writes' })

--: op api_case
--: head ref
--: reply json
-- GET /v1/cases/{ref}: per recipient of the case, the job whose
-- reminders are pending (case:<ref>), its appearance, and each message:
-- id, channel, status, what (reminder or notice), due when scheduled.
-- '' for a case pregon does not know (or that was cancelled).
register('api_case', function(a)
	local regs = redis.call('HGETALL', P .. 'case:' .. a[@head.ref])
	if #regs == 0 then return { [@reply.json] = '' } end
	local people = {}
	for i = 1, #regs, 2 do
		local job = regs[i + 1]
		local at = redis.call('HGET', P .. 'job:' .. job, 'at') or nil
		local seq, total = job_messages(job)
		local msgs = {}
		for k = 1, (seq and total or 0) do
			local mid = 'm' .. seq .. '.' .. int_s(k)
			local f = redis.call('HMGET', P .. 'msg:' .. mid, 'channel', 'status', 'd', 'updated')
			if f[1] then
				local m = { id = mid, channel = f[1], status = f[2],
					what = (f[3] and string.find(f[3], '"tpl":"court_enrolment"', 1, true))
						and 'notice' or 'reminder', updated = f[4] or nil }
				local due = redis.call('ZSCORE', P .. 'scheduled', mid)
				if due then m.due = due end
				msgs[#msgs + 1] = cjson.encode(m)
			end
		end
		people[#people + 1] = string.sub(cjson.encode({ contact = regs[i], job = job,
			appearance = at }), 1, -2) .. ',"messages":' .. json_list(msgs) .. '}'
	end
	return { [@reply.json] = json_list(people) }
end, { 'no-writes' })

--: op api_replies
--: head id after limit
--: reply json next
-- GET /v1/jobs/{id}/replies (admin tokens only): the free-text replies to
-- a job (<p>replies:<job>, kept with the job): entry id, message,
-- contact, channel, text, at, after entry `after` ('' for the first), at
-- most `limit`. The only route that returns what people wrote.
register('api_replies', function(a)
	local from = a[@head.after] ~= '' and '(' .. a[@head.after] or '-'
	local limit = tonumber(a[@head.limit]) or 100
	local rows = redis.call('XRANGE', P .. 'replies:' .. a[@head.id], from, '+', 'COUNT', limit)
	local items, last = {}, ''
	for _, e in ipairs(rows) do
		local t = { id = e[1] }
		for i = 1, #e[2], 2 do
			local k = e[2][i]
			if k == 'message' or k == 'contact' or k == 'channel' or k == 'text' or k == 'at' then
				t[k] = e[2][i + 1]
			end
		end
		items[#items + 1] = cjson.encode(t)
		last = e[1]
	end
	return { [@reply.json] = json_list(items), [@reply.next] = #rows == limit and last or '' }
end, { 'no-writes' })
