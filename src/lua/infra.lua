-- infra.lua: the operations that keep the house: the shared send rate,
-- queue depths, trimming of the streams, and the MQTT publisher's lease.

-- Dead letters older than the retention period go (jobs.lua dead_letter).
-- By Redis' clock, which made the entry ids (with the test clock days
-- ahead, a bound from it would drop today's). First whole nodes ("~",
-- cheap however many), then exactly: "~" alone keeps a node while any of
-- its entries is young, and in a quiet stream the last node holds the
-- old entries with the new for ever. What is left for the exact pass is
-- at most one node (stream-node-max-entries, 100 by default).
local function trim_dead()
	local t = redis.call('TIME')
	local bound = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
		- retention * 1000)
	local key = P .. 'dead'
	return redis.call('XTRIM', key, 'MINID', '~', bound, 'LIMIT', 0)
		+ redis.call('XTRIM', key, 'MINID', bound)
end

--: op trim
--: each stream
-- Drops the entries of each stream key that every consumer of our group
-- has acknowledged: those before the oldest pending one and not after
-- the last delivered one. Keeps the queues from growing without bound.
-- Also drops the dead letters older than the retention period (trim_dead).
-- Returns how many entries went.
register('trim', function(a)
	local trimmed = trim_dead()
	for i = @first, #a, @n do
		local key = a[i + @each.stream]
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
end)

--: op rate
--: head channel rate burst want refund
--: reply granted wait
-- GCRA: <p>rate:<channel> holds the theoretical arrival time (TAT, ms) of
-- the next message; a message may leave when TAT - now <= burst * T,
-- T = 1000 / rate (messages a second). Grants as many of the wanted
-- tokens as that allows, after taking back refund unspent ones; wait is
-- ms until the next token is due.
register('rate', function(a)
	local key = P .. 'rate:' .. a[@head.channel]
	local rate, burst = tonumber(a[@head.rate]), tonumber(a[@head.burst])
	local want, refund = tonumber(a[@head.want]), tonumber(a[@head.refund])
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
	return { [@reply.granted] = granted, [@reply.wait] = wait }
end)

--: op depth
--: each stream
-- For each stream key, the entries our group has not read yet (lag) plus
-- those read and not acknowledged (pending); then, last, the number of
-- scheduled messages.
register('depth', function(a)
	local out = {}
	for i = @first, #a, @n do
		local key = a[i + @each.stream]
		local n = 0
		if redis.call('EXISTS', key) == 1 then
			for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
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
end, { 'no-writes' })

-- The MQTT event publisher's lease, cursor and reads (src/events/
-- mqtt_events.c). One instance publishes at a time: the one holding
-- <p>mqtt:leader (its consumer name, with a PX expiry). <p>mqtt:cursor is
-- a hash: id, the last <p>events entry whose PUBACK arrived (and every
-- entry before it); n, its ordinal in the stream's history (XINFO
-- entries-added when it was added, -1 unknown), which tells how many
-- entries MAXLEN trimmed before they were published; by; at. Only the
-- lease holder moves the cursor, and only forward.
-- XINFO's entries-added and recorded-first-entry-id exist from Redis 7.0;
-- before that nothing is reported as skipped.
local mqtt_lkey, mqtt_ckey, mqtt_skey

local function id_less(x, y)
	local am, as = string.match(x or '', '^(%d+)-(%d+)$')
	local bm, bs = string.match(y or '', '^(%d+)-(%d+)$')
	if not am or not bm then return false end
	am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
	return am < bm or (am == bm and as < bs)
end

local function mqtt_keys()
	mqtt_lkey, mqtt_ckey, mqtt_skey = P .. 'mqtt:leader', P .. 'mqtt:cursor', P .. 'events'
end

local function events_info()
	if redis.call('EXISTS', mqtt_skey) == 0 then return nil end
	local flat = redis.call('XINFO', 'STREAM', mqtt_skey)
	local info = {}
	for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
	return info
end

local function cursor_save(id, n, by)
	if not id or id == '' then return end
	local cur = redis.call('HGET', mqtt_ckey, 'id')
	if cur and not id_less(cur, id) then return end
	redis.call('HSET', mqtt_ckey, 'id', id, 'n', n or '-1', 'by', by, 'at', now_iso)
end

--: op mqtt_init
--: reply id n
-- Creates the cursor if missing, at the end of the stream (MQTT carries
-- events from then on, not the history). Returns the stored cursor.
register('mqtt_init', function()
	mqtt_keys()
	local c = redis.call('HMGET', mqtt_ckey, 'id', 'n')
	if c[1] then return { [@reply.id] = c[1], [@reply.n] = c[2] or '-1' } end
	local id, n = '0-0', '0'
	local info = events_info()
	if info then
		id = info['last-generated-id'] or '0-0'
		n = info['entries-added'] and string.format('%d', info['entries-added']) or '-1'
	end
	redis.call('HSET', mqtt_ckey, 'id', id, 'n', n, 'by', 'init', 'at', now_iso)
	return { [@reply.id] = id, [@reply.n] = n }
end)

--: op mqtt_hold
--: head consumer ms id n
--: reply held id n
--: record notheld held holder
-- Takes or renews the lease for consumer for ms and, when held, saves
-- the cursor id n ('' for none). Returns {1, id, n} (the stored cursor)
-- or, held by another, a notheld record {0, holder}.
register('mqtt_hold', function(a)
	mqtt_keys()
	local me = a[@head.consumer]
	local holder = redis.call('GET', mqtt_lkey)
	if holder and holder ~= me then return @notheld{ held = 0, holder = holder } end
	redis.call('SET', mqtt_lkey, me, 'PX', a[@head.ms])
	cursor_save(a[@head.id], a[@head.n], me)
	local c = redis.call('HMGET', mqtt_ckey, 'id', 'n')
	return { [@reply.held] = 1, [@reply.id] = c[1] or '0-0', [@reply.n] = c[2] or '-1' }
end)

--: op mqtt_release
--: head consumer id n
-- Saves the cursor (id n, '' for none) and drops the lease, if consumer
-- holds it. Returns 1, else 0.
register('mqtt_release', function(a)
	mqtt_keys()
	local me = a[@head.consumer]
	if redis.call('GET', mqtt_lkey) ~= me then return 0 end
	cursor_save(a[@head.id], a[@head.n], me)
	redis.call('DEL', mqtt_lkey)
	return 1
end)

--: op mqtt_read
--: head id n count
--: reply skipped n resume
-- Up to count entries after id (ordinal n). Returns {skipped, n0, resume,
-- id1, event1, id2, ...}. When entries after id were trimmed unread
-- (MAXLEN removes the oldest, so the entries with ordinals up to
-- entries-added - length are gone), resume is an id just below the first
-- entry left, n0 its ordinal and skipped how many; otherwise resume is ''
-- and n0 = n.
register('mqtt_read', function(a)
	mqtt_keys()
	local from, n = a[@head.id], tonumber(a[@head.n]) or -1
	local count = tonumber(a[@head.count]) or 100
	local info = events_info()
	if not info then return { [@reply.skipped] = 0, [@reply.n] = n, [@reply.resume] = '' } end
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
	local out = { [@reply.skipped] = skipped, [@reply.n] = n, [@reply.resume] = resume }
	for _, e in ipairs(redis.call('XRANGE', mqtt_skey, '(' .. from, '+', 'COUNT', count)) do
		local ev = ''
		for j = 1, #e[2], 2 do
			if e[2][j] == 'event' then ev = e[2][j + 1] end
		end
		out[#out + 1] = e[1]
		out[#out + 1] = ev
	end
	return out
end, { 'no-writes' })
