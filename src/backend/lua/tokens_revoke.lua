-- KEYS: tokens, provided, revoked, grants, expiring. ARGV: token, now (ms), how long a revocation
-- of a minted token is remembered (ms), pub/sub channel of revocations, what comes before and
-- after a user in the key of their tokens, the command that publishes ('PUBLISH', or 'SPUBLISH'
-- on Redis Cluster).
-- Runs as one script after tokens_unindex.lua, whose functions it calls.
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
unindex(redis.call('HGET', KEYS[4], ARGV[1]), ARGV[1], ARGV[5], ARGV[6])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
local score = ARGV[2]
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 then score = '+inf' end
redis.call('ZADD', KEYS[3], score, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (tonumber(ARGV[2]) - tonumber(ARGV[3])))
redis.call(ARGV[7], ARGV[4], ARGV[1])
return removed
