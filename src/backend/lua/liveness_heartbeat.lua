-- KEYS: nodes, the node's report. ARGV: node id, ms until it expires, its report, ms until the
-- report expires. The report is in place whenever the node is live. Returns [was it new (1/0),
-- dead ids].
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
local added = redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
return {added, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ms)}
