-- delivery.lua: a message from its ready stream to its provider and back:
-- claim, result, hold (quiet hours) and provider feedback.

-- Where provider feedback can move a message, by rank: a callback never
-- moves it back (a late "sent" after "delivered").
-- A reply outranks them all: whoever answers got the message.
local feedback_rank = { sent = 1, delivered = 2, undelivered = 2, failed = 2, read = 3, replied = 4,
	clicked = 5 }

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
		set_status(mkey, job, kind, channel, cur, status, 'error', err)
	else
		set_status(mkey, job, kind, channel, cur, status)
	end
	event(job, kind, mid, contact, channel, status, f[6], provider_id, err)
	if status == 'failed' or status == 'undelivered' then
		fall_back(mkey, mid, job, kind, contact, channel)
	end
	return 'applied'
end

--: op claim
--: each channel lane entry mid
--: record skip verdict mid
-- Claims ready entries the engine read. Returns, per entry, a send record
-- (verdict "send": now in status sending) or {"skip", mid}: acknowledged,
-- since it is final, expired, suppressed or gone.
register('claim', function(a)
	local out = {}
	for i = @first, #a, @n do
		local channel, lane = a[i + @each.channel], a[i + @each.lane]
		local entry, mid = a[i + @each.entry], a[i + @each.mid]
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
			-- (A message of a stopped job in sending was claimed by an
			-- instance that died or was told too late; accepted and
			-- scheduled ones were cancelled by the stop itself.)
			local stop = status == 'sending' and stopped_by(job)
			if stop then
				set_status(mkey, job, kind, channel, status, 'cancelled', 'error',
					'cancelled by job ' .. stop)
				event(job, kind, mid, contact, channel, 'cancelled', f[6], nil,
					'cancelled by job ' .. stop)
			elseif f[12] then
				-- Its contact was deleted while it was being sent.
				set_status(mkey, job, kind, channel, status, 'cancelled', 'error', 'contact deleted')
				event(job, kind, mid, contact, channel, 'cancelled', f[6], nil, 'contact deleted')
			elseif expires > 0 and now >= expires then
				set_status(mkey, job, kind, channel, status, 'expired')
				event(job, kind, mid, contact, channel, 'expired', f[6])
			elseif not f[11] and opted_out(channel, f[9]) then
				set_status(mkey, job, kind, channel, status, 'suppressed', 'error', 'opted out')
				event(job, kind, mid, contact, channel, 'suppressed', f[6], nil, 'opted out')
			else
				local attempt = int_s((tonumber(f[6]) or 0) + 1)
				set_status(mkey, job, kind, channel, status, 'sending', 'attempt', attempt)
				event_h(event_head(job, kind, mid, contact, channel), 'sending', attempt)
				verdict = 'send'
				-- A templated message is rendered from its job's values.
				local vars = ''
				if f[10] and string.find(f[10], '"tpl":', 1, true) then
					vars = redis.call('HGET', P .. 'job:' .. job, 'vars') or ''
				end
				out[#out + 1] = @send{ verdict = 'send', mid = mid, to = f[9], payload = f[10],
					attempt = attempt, job = job, contact = contact, urgent = f[7] or '0',
					expires = f[8] or '0', vars = vars, qz = f[13] or '' }
			end
		end
		if verdict == 'skip' then
			redis.call('XACK', stream, group, entry)
			out[#out + 1] = @skip{ verdict = 'skip', mid = mid }
		end
	end
	return out
end)

--: op result
--: head max_attempts
--: each channel lane entry mid attempt outcome detail delay
-- lane is "urgent", "normal", or "job" for a message claimed at intake
-- (its jobs entry holds it); delay is ms before the retry (temp, defer).
-- Outcomes: sent; temp (retried, the attempt counts; why retry); defer (not
-- attempted: the provider's circuit is open; retried without counting);
-- perm (failed, falls back to the next channel); optout (perm, and the
-- provider says the recipient opted out at the carrier: the address is
-- opted out of the channel too); bounce (perm, and the address does not
-- exist, an SMTP 550-class answer at RCPT: it is opted out of the channel
-- with ledger source "bounce", so later mail to it is suppressed); cancel (never handed to the provider:
-- its job was stopped while it waited in the engine; detail names the
-- cancel job). A job stopped since (<p>stop:) turns temp and defer into
-- cancelled too, and gets no fallback. A provider id other than the message id
-- is mapped back to the message for status callbacks, and the address to
-- its contact and job for replies (<p>pid:<id>, <p>lj:<channel>:<address>).
-- A result for an attempt that is no longer current (the message was
-- reclaimed and sent again elsewhere) changes nothing but the ack.
-- Returns the outcome per message, or "stale".
register('result', function(a)
	local max_attempts = tonumber(a[@head.max_attempts])
	local out, acks = {}, {}
	local early_any = nil	-- whether fb:any exists, read once when needed
	for i = @first, #a, @n do
		local channel, lane = a[i + @each.channel], a[i + @each.lane]
		local entry, mid = a[i + @each.entry], a[i + @each.mid]
		local attempt, outcome = tonumber(a[i + @each.attempt]), a[i + @each.outcome]
		local detail, due = a[i + @each.detail], tonumber(a[i + @each.delay])
		local mkey = P .. 'msg:' .. mid
		local f = redis.call('HMGET', mkey, 'job', 'kind', 'contact', 'channel', 'status', 'attempt',
			'to', 'rp', 'lang')
		local job, kind, contact, status = f[1], f[2], f[3], f[5]
		local r = 'stale'
		if job and f[4] == channel and status == 'sending' and tonumber(f[6]) == attempt then
			if outcome == 'temp' and attempt >= max_attempts then
				outcome = 'perm'
				detail = 'gave up after ' .. attempt .. ' attempts: ' .. detail
			end
			local stop = outcome ~= 'sent' and outcome ~= 'perm' and outcome ~= 'optout' and
				outcome ~= 'bounce' and
				stopped_by(job)
			if stop or outcome == 'cancel' then
				-- Not handed to the provider after its job was stopped
				-- (cancel: dropped from the engine's queue), or not taken
				-- by it: no retry.
				local why = 'cancelled by job ' .. (stop or detail)
				set_status(mkey, job, kind, channel, status, 'cancelled', 'error', why)
				event(job, kind, mid, contact, channel, 'cancelled', attempt, nil, why)
				outcome = 'cancel'
			elseif outcome == 'sent' then
				set_status(mkey, job, kind, channel, status, 'sent', 'provider_id', detail)
				event_h(event_head(job, kind, mid, contact, channel), 'sent',
					a[i + @each.attempt], detail)
				-- The address as replies and consent name it.
				local addr = (f[7] and f[7] ~= '') and consent_addr(channel, f[7]) or nil
				-- A reply from this address within the window answers the
				-- latest message sent to it that asked for one.
				if f[8] and addr then
					redis.call('SET', P .. 'rto:' .. channel .. ':' .. addr, mid, 'EX', f[8])
				end
				if detail ~= mid and detail ~= '' and addr then
					redis.call('SET', P .. 'pid:' .. detail, mid, 'EX', retention_s)
					-- The contact, job and recipient language last sent
					-- to this address, for the replies that come from it:
					-- "<contact>\t<job>" and "\t<lang>" when known.
					local lj = (contact or '') .. '\t' .. job
					if f[9] then lj = lj .. '\t' .. f[9] end
					redis.call('SET', P .. 'lj:' .. channel .. ':' .. addr, lj, 'EX', retention_s)
					-- A callback may beat this result here. fb:any says
					-- whether any is kept at all, so that the common case
					-- costs one EXISTS per call, not one read per message.
					if early_any == nil then
						early_any = redis.call('EXISTS', P .. 'fb:any') == 1
					end
					if early_any then
						local fk = P .. 'fb:' .. detail
						local early = redis.call('HMGET', fk, 'status', 'error')
						if early[1] then
							redis.call('DEL', fk)
							apply_feedback(mid, early[1], early[2] or '', detail)
						end
					end
				end
			elseif outcome == 'temp' then
				set_status(mkey, job, kind, channel, status, 'scheduled', 'error', detail,
					'why', 'retry')
				redis.call('ZADD', P .. 'scheduled', now + due, mid)
				event(job, kind, mid, contact, channel, 'scheduled', attempt, nil, detail)
			elseif outcome == 'defer' then
				set_status(mkey, job, kind, channel, status, 'scheduled', 'error', detail,
					'attempt', attempt - 1, 'why', 'retry')
				redis.call('ZADD', P .. 'scheduled', now + due, mid)
				event(job, kind, mid, contact, channel, 'scheduled', attempt - 1, nil, detail)
			else
				if outcome == 'optout' or outcome == 'bounce' then
					consent_change(channel, f[7] or '', 'out',
						outcome == 'bounce' and 'bounce' or 'carrier', detail)
				end
				set_status(mkey, job, kind, channel, status, 'failed', 'error', detail)
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
end)

--: op hold
--: each channel lane entry mid due
-- Ready entries the engine read inside their recipient's quiet hours: the
-- message goes back to the schedule until the window opens (due, ms),
-- without being claimed (no `sending`, no attempt; why quiet, for pregon
-- status), and the entry is acknowledged. A message no longer waiting (cancelled, final) is only
-- acknowledged. A court reminder is never held past its appearance (a late
-- text beats none: a missed date means a warrant): when the window opens
-- only after it expires, it loses its zone and is queued again to go now.
-- Returns how many were held.
register('hold', function(a)
	local held = 0
	for i = @first, #a, @n do
		local channel, lane = a[i + @each.channel], a[i + @each.lane]
		local entry, mid, due = a[i + @each.entry], a[i + @each.mid], tonumber(a[i + @each.due])
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
			set_status(mkey, f[1], f[2], channel, f[5], 'scheduled', 'error', 'held by quiet hours',
				'why', 'quiet')
			redis.call('ZADD', P .. 'scheduled', due, mid)
			event(f[1], f[2], mid, f[3], channel, 'scheduled', f[6], nil, 'held by quiet hours')
			held = held + 1
		end
		redis.call('XACK', P .. 'ready:' .. channel .. ':' .. lane, group, entry)
	end
	return held
end)

--: op feedback
--: head provider_id status error
-- A provider's status callback (sent, delivered, undelivered, failed,
-- read; error '' if none). Moves the message the provider id belongs to,
-- never backwards. A callback that comes before the send's result is
-- written is kept (<p>fb:<id>, an hour) and applied by the result.
-- Returns applied, ignored (a regression or a repeat), early, or stale
-- (no such message any more).
register('feedback', function(a)
	local pid, status, err = a[@head.provider_id], a[@head.status], a[@head.error]
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
			-- Outlives every fb: key (see result).
			redis.call('SET', P .. 'fb:any', '1', 'EX', 3600)
		end
		return 'early'
	end
	return apply_feedback(mid, status, err, pid)
end)
