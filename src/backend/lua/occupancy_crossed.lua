-- KEYS: the channel's node counts, its occupied flag, the pending vacates. ARGV: channel, when a
-- vacate would be due (ms). Returns 1 when this call made the channel occupied.
local total = 0
for _, count in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(count) end
if total > 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return redis.call('SETNX', KEYS[2], 1)
end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1]) end
return 0
