-- KEYS: tokens, provided, revoked, grants. ARGV: now (ms), the open grant, then the tokens.
-- Returns how many joined.
local added = 0
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[3], ARGV[i]) == false then
    redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[i])
    redis.call('HSETNX', KEYS[4], ARGV[i], ARGV[2])
    redis.call('SADD', KEYS[2], ARGV[i])
    added = added + 1
  end
end
return added
