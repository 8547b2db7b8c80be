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
