-- signal.lua: the native Signal transport's stores (adapters/signal_native/):
-- our identity, each recipient's session and identity key, the lock that
-- keeps two instances from advancing one ratchet at once, and the
-- envelope kept per message so that a retry sends the same ciphertext.
--
-- Keys (include/keys.h):
--   signal:self            hash pub, priv, regid: this deployment's identity
--   signal:session:<addr>  hash device -> the library's session record
--   signal:identity:<addr> hash key (trusted), changed (refused; for
--                          `pregon signal trust`), changed_at (ms)
--   signal:lock:<addr>     string: the owner's token, PX the lock time
--   signal:env:<msg>       string: the encrypted envelope (the PUT body)
-- Records are the library's own serializations (binary, opaque here).

local function sig_key(kind, id)
	return P .. 'signal:' .. kind .. ':' .. id
end

--: op signal_begin
--: head address device token lock_ms msg pub priv regid
--: reply state envelope pub priv regid session identity
-- What one send needs, read in one call. A message already encrypted
-- (a retry after its envelope was written) gets its envelope back and no
-- lock: state 'envelope'. Otherwise the recipient's lock is taken for
-- lock_ms (state 'locked' when another holder has it: try again later)
-- and state 'ok' returns our identity (the given one is stored if there is
-- none yet, so the first instance's generated identity wins), the
-- session record of device and the trusted identity key ('' if none).
register('signal_begin', function(a)
	local env = redis.call('GET', sig_key('env', a[@head.msg]))
	if env then
		return { [@reply.state] = 'envelope', [@reply.envelope] = env, [@reply.pub] = '',
			[@reply.priv] = '', [@reply.regid] = '', [@reply.session] = '', [@reply.identity] = '' }
	end
	local address = a[@head.address]
	if not redis.call('SET', sig_key('lock', address), a[@head.token], 'NX', 'PX',
			a[@head.lock_ms]) then
		return { [@reply.state] = 'locked', [@reply.envelope] = '', [@reply.pub] = '',
			[@reply.priv] = '', [@reply.regid] = '', [@reply.session] = '', [@reply.identity] = '' }
	end
	local self = P .. 'signal:self'
	if redis.call('EXISTS', self) == 0 then
		redis.call('HSET', self, 'pub', a[@head.pub], 'priv', a[@head.priv], 'regid', a[@head.regid])
	end
	local me = redis.call('HMGET', self, 'pub', 'priv', 'regid')
	local session = redis.call('HGET', sig_key('session', address), a[@head.device])
	local identity = redis.call('HGET', sig_key('identity', address), 'key')
	return { [@reply.state] = 'ok', [@reply.envelope] = '', [@reply.pub] = me[1],
		[@reply.priv] = me[2], [@reply.regid] = me[3], [@reply.session] = session or '',
		[@reply.identity] = identity or '' }
end)

--: op signal_commit
--: head address device token msg session identity refused envelope ttl_s
-- Writes back what one send changed and releases the lock, if the caller
-- still holds it (its token): the session record, the identity key saved
-- on first use, a refused (changed) key, and the envelope, kept ttl_s for
-- retries. An empty value changes nothing. Returns 1, or 0 when the lock
-- was lost (it expired and another instance took it): nothing is written
-- and the caller must not send what it encrypted.
register('signal_commit', function(a)
	local address = a[@head.address]
	local lock = sig_key('lock', address)
	if redis.call('GET', lock) ~= a[@head.token] then return 0 end
	if a[@head.session] ~= '' then
		redis.call('HSET', sig_key('session', address), a[@head.device], a[@head.session])
	end
	local ids = sig_key('identity', address)
	if a[@head.identity] ~= '' and redis.call('HEXISTS', ids, 'key') == 0 then
		redis.call('HSET', ids, 'key', a[@head.identity])
	end
	if a[@head.refused] ~= '' then
		redis.call('HSET', ids, 'changed', a[@head.refused], 'changed_at', now_s)
	end
	if a[@head.envelope] ~= '' then
		redis.call('SET', sig_key('env', a[@head.msg]), a[@head.envelope], 'EX', a[@head.ttl_s])
	end
	redis.call('DEL', lock)
	return 1
end)

--: op signal_forget
--: head msg
-- Drops a message's envelope: sent, refused for good, or meant for devices
-- the server says changed (409/410: the caller starts again from a fresh
-- bundle, under the lock). Returns 1.
register('signal_forget', function(a)
	redis.call('DEL', sig_key('env', a[@head.msg]))
	return 1
end)

--: op signal_trust
--: head address
--: reply result
-- The operator accepts a recipient's changed identity key: it becomes the
-- trusted one and the old session goes (it was with the old key). Returns
-- 'trusted', or 'none' when no changed key is waiting.
register('signal_trust', function(a)
	local address = a[@head.address]
	local ids = sig_key('identity', address)
	local changed = redis.call('HGET', ids, 'changed')
	if not changed then return { [@reply.result] = 'none' } end
	redis.call('HSET', ids, 'key', changed)
	redis.call('HDEL', ids, 'changed', 'changed_at')
	redis.call('DEL', sig_key('session', address))
	return { [@reply.result] = 'trusted' }
end)
