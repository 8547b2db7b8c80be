-- inbound.lua: what people send back: consent words, replies to alerts,
-- and texts for a person to answer (CONTRACT.md sections 2 and 3).

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
		-- (A town hall's answers count per event, across replacements.)
		if kind == 'townhall_confirmation' then townhall_answer(job, meaning) end
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
		set_status(mkey, job, kind, mch, cur, 'replied', 'meaning', meaning or f[7] or '')
	elseif meaning then
		redis.call('HSET', mkey, 'meaning', meaning)
	end
	event(job, kind, mid, contact, mch, 'replied', f[6], nil, nil, meaning)
	return { meaning = meaning, contact = contact or '', job = job }
end

--: op consent
--: head channel address action source detail
-- action "out" or "in"; source keyword, carrier, operator, crm or email;
-- detail the keyword and inbound message id, the carrier error, an
-- operator's note. Changes the opt-out set and appends to the address's
-- consent ledger (consent_change). Returns 1 if the state changed, 0 if
-- it already was so.
register('consent', function(a)
	local action = a[@head.action]
	if action ~= 'out' and action ~= 'in' then
		return redis.error_reply('consent: action must be out or in')
	end
	return consent_change(a[@head.channel], a[@head.address], action, a[@head.source],
		a[@head.detail])
end)

-- Seconds in which one address gets at most one consent confirmation per
-- channel. Each answer is a paid SMS and goes out ahead of normal work: a
-- person (or a script) toggling STOP/START must not make one text each
-- (issue 12). The change itself is always recorded.
local CONFIRM_EVERY_S = '86400'

--: op inbound
--: head channel from text provider_id intent keyword answer answer_kind norm help_interval answer_tpl
-- An inbound message. intent: none, stop, start, help; keyword: the word
-- that decided; answer: the text to send back ('' for none), as a job of
-- kind answer_kind; norm: the text as reply keywords are matched
-- (trimmed, case-folded; see match_reply); help_interval: seconds in which
-- HELP is answered at most once per address ([<channel>] help_interval);
-- answer_tpl: for an English keyword, the template of the answer
-- (consent_stop, consent_start, consent_help), '' otherwise. With it, and
-- a language known for the address (the recipient's lang of the message
-- last sent to it, else its contact's), the answer's payload names the
-- template and the language, and the engine renders it in that language
-- when it is sent (answer is the text when that fails).
-- Once per provider message id (providers retry webhooks): a repeat
-- returns 'duplicate'. Consent words change consent (source keyword)
-- and are answered at most once per address and channel a day
-- (CONFIRM_EVERY_S); HELP, opted out or not (carriers require it), at
-- most once per help_interval. Anything else goes to <p>inbound for a
-- person to answer, with the contact and the job last sent to that
-- address when known; a reply to an alert that asked for one is matched
-- first (match_reply). Answers go on the channel's answer lane (below
-- urgent alerts, above normal work). Returns the intent's outcome:
-- inbound, replied (a keyword), reply-text (free text to an alert, also
-- put on <p>inbound), stop, stop-repeat, start, start-repeat, help; and
-- stop-limited, start-limited, help-limited when the answer was withheld
-- by the limits.
register('inbound', function(a)
	local channel, from, text, sid = a[@head.channel], a[@head.from], a[@head.text],
		a[@head.provider_id]
	local intent, keyword = a[@head.intent], a[@head.keyword]
	local answer, answer_kind = a[@head.answer], a[@head.answer_kind]
	local addr = consent_addr(channel, from)
	-- inb:<sid> expires with the retention period, but a consent word
	-- replayed after that (a captured, validly signed START: the
	-- signature has no time in it) would change consent again. So the
	-- ids of consent words are kept as long as the ledger, in
	-- <p>csid:<address> beside it: each is also a ledger entry, so the
	-- set grows no faster than the ledger, while the ids of everything
	-- else (replies, HELP, receipts: no consent at stake) still expire.
	local csid = P .. 'csid:' .. addr
	if redis.call('SISMEMBER', csid, sid) == 1 then return 'duplicate' end
	if not redis.call('SET', P .. 'inb:' .. sid, '1', 'NX', 'EX', retention) then
		return 'duplicate'
	end
	-- The contact and job last sent to this address (result): lj: holds
	-- "<contact>\t<job>"; last: is the hash an earlier version kept.
	local last = {}
	local lj = redis.call('GET', P .. 'lj:' .. channel .. ':' .. addr)
	if lj then
		-- (and "\t<lang>" after the job when the message had one)
		last[1], last[2] = string.match(lj, '^([^\t]*)\t(.*)$')
		local job, lang = string.match(last[2] or '', '^([^\t]*)\t(.*)$')
		if job then last[2], last[3] = job, lang end
	else
		last = redis.call('HMGET', P .. 'last:' .. channel .. ':' .. addr, 'contact', 'job')
	end
	local result = intent
	if intent == 'stop' or intent == 'start' then
		local changed = consent_change(channel, from, intent == 'stop' and 'out' or 'in',
			'keyword', keyword .. ' ' .. sid)
		redis.call('SADD', csid, sid)
		if changed == 0 then
			answer = ''
			result = intent .. '-repeat'
		end
	elseif intent ~= 'help' then
		local contact, job = last[1] or '', last[2] or ''
		local replied = match_reply(channel, from, text, a[@head.norm] or '', sid)
		if replied then
			if replied.meaning then return 'replied' end
			contact, job = replied.contact, replied.job
			result = 'reply-text'
		else
			result = 'inbound'
		end
		-- The entry's id ('*') is made from Redis' own time, so the trim
		-- bound must be too: with the test clock (a[5]) days ahead, a bound
		-- from it dropped the text in the XADD that added it.
		local ids_now = now
		if a[5] ~= '' then
			local t = redis.call('TIME')
			ids_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
		end
		local id = redis.call('XADD', P .. 'inbound', 'MINID', '~',
			string.format('%d', ids_now - retention * 1000), '*',
			'contact', contact, 'channel', channel, 'from', from, 'text', text,
			'at', now_iso, 'job', job, 'provider_id', sid)
		index_text(channel, from, 'inbound', id)
		return result
	end
	if answer ~= '' then
		-- At most one answer of each kind per address and channel in its
		-- interval: the key holds the sid that was answered and expires
		-- with the interval (so it keeps an address for a day at most).
		local help = answer_kind == 'help'
		local lk = P .. (help and 'ha:' or 'ca:') .. channel .. ':' .. addr
		local every = CONFIRM_EVERY_S
		if help then
			every = a[@head.help_interval]
			if not every or not tonumber(every) or tonumber(every) < 1 then every = '86400' end
		end
		if not redis.call('SET', lk, sid, 'NX', 'EX', every) then
			return result .. '-limited'
		end
		-- The answer is a job of its own, so that it is tracked, retried
		-- and counted like any message (a job of one message: its seen
		-- key finds it, see job_messages).
		local id = answer_kind .. '-' .. sid
		local seq = 'i' .. redis.call('INCR', P .. 'jobseq')
		redis.call('SET', P .. 'seen:' .. id, seq, 'EX', retention_s)
		local to = {}
		to[channel] = from
		-- The language known for the address: the answer keeps it too, so
		-- that lj: still has it once the answer is sent.
		local lang = last[3]
		if (not lang or lang == '') and last[1] and last[1] ~= '' then
			lang = redis.call('HGET', P .. 'contact:' .. last[1], 'lang') or nil
		end
		local msg = { body = answer, subject = '', chain = { channel }, addr = to }
		local tpl = a[@head.answer_tpl]
		if tpl and tpl ~= '' and lang and lang ~= '' then msg.ans, msg.lang = tpl, lang end
		local d = cjson.encode(msg)
		create_message({ job = id, kind = answer_kind, contact = last[1] or '', chain = { channel },
			addr = to, d = d, urgent = '0', lane = 'answer', expires = now + 86400000, due = 0,
			bypass = true, lang = lang }, 'm' .. seq .. '.1')
	end
	return result
end)
