-- KEYS: tokens, grants, expiring. ARGV: now (Unix seconds), 'count' or 'list', what comes before
-- and after a user in the key of their tokens. Drops the expired tokens first, then counts or
-- lists the rest.
-- Runs as one script after tokens_unindex.lua, whose functions it calls.
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
for _, token in ipairs(expired) do
  redis.call('ZREM', KEYS[1], token)
  unindex(redis.call('HGET', KEYS[2], token), token, ARGV[3], ARGV[4])
  redis.call('HDEL', KEYS[2], token)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
if ARGV[2] == 'count' then return redis.call('ZCARD', KEYS[1]) end
return redis.call('ZRANGE', KEYS[1], 0, -1)
