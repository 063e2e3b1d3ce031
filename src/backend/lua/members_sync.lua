-- KEYS: the channel's members, this node's members of it, its pending lefts, their frames, its
-- infos (one slot: the channel's). ARGV: the publish command ('PUBLISH'), the channel's pub/sub
-- channel, the leave delay (ms), then for each user: '+' (in) or '-' (out), the user, their
-- joined frame (with the joiner's mark), their pending left (the JSON of {"channel", "user",
-- "frame"}), their info ('' for none). Returns {the users who joined the cluster, when the
-- channel's first pending left is due (ms, 0 for none), 1 while this node has members there}.
local joined = {}
for i = 4, #ARGV, 5 do
  local user, left, info = ARGV[i + 1], ARGV[i + 3], ARGV[i + 4]
  if ARGV[i] == '+' then
    if redis.call('HSET', KEYS[2], user, left) == 1 then
      local nodes = redis.call('HGET', KEYS[1], user)
      redis.call('HINCRBY', KEYS[1], user, 1)
      if not nodes then
        redis.call(ARGV[1], ARGV[2], ARGV[i + 2])
        joined[#joined + 1] = user
      elseif nodes == '0' then
        redis.call('ZREM', KEYS[3], user)
        redis.call('HDEL', KEYS[4], user)
      end
      if info ~= '' then
        if not nodes then redis.call('HSET', KEYS[5], user, info)
        else redis.call('HSETNX', KEYS[5], user, info) end
      end
    end
  elseif redis.call('HDEL', KEYS[2], user) == 1 then
    if redis.call('HINCRBY', KEYS[1], user, -1) <= 0 then
      redis.call('HSET', KEYS[1], user, 0)
      redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), user)
      redis.call('HSET', KEYS[4], user, left)
    end
  end
end
return {joined, first_due(KEYS[3]), redis.call('EXISTS', KEYS[2])}
