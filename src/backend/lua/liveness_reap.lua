-- KEYS: nodes, the dead node's connections and counters (one slot: `{nodes}`). ARGV: the dead
-- node's id. Removes it only if it is still expired (it may be back); the caller then removes
-- its counts from its channels, which are in their own slots.
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) >= ms then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
