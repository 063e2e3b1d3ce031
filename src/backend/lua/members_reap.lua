-- KEYS: the channel's members, a dead node's members of it, its pending lefts, their frames (one
-- slot: the channel's). ARGV: the leave delay (ms). The dead node's users there are going, as if
-- their connections had closed now. Returns when the channel's first pending left is due (ms, 0
-- for none).
local mine = redis.call('HGETALL', KEYS[2])
for i = 1, #mine, 2 do
  if redis.call('HINCRBY', KEYS[1], mine[i], -1) <= 0 then
    redis.call('HSET', KEYS[1], mine[i], 0)
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[1]), mine[i])
    redis.call('HSET', KEYS[4], mine[i], mine[i + 1])
  end
end
redis.call('DEL', KEYS[2])
return first_due(KEYS[3])
