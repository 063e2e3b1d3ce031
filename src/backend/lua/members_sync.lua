-- KEYS: the channel's members, this node's members of it, the pending lefts, this node's channels
-- with members, the nodes with members, the live nodes, the channel's infos. ARGV: node id,
-- channel, its pub/sub channel, leave delay (ms), then for each user: '+' (in) or '-' (out), the
-- user, their joined frame (with the joiner's mark), their pending left (see the sweep), their
-- info ('' for none). Returns the users who joined the cluster, or -1, writing nothing, when this
-- node is not live (it was reaped, or Redis lost its data): it writes all again once it is.
if not redis.call('ZSCORE', KEYS[6], ARGV[1]) then return -1 end
local clock = redis.call('TIME')
local due = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(ARGV[4])
local joined = {}
for i = 5, #ARGV, 5 do
  local user, left, info = ARGV[i + 1], ARGV[i + 3], ARGV[i + 4]
  if ARGV[i] == '+' then
    if redis.call('HSET', KEYS[2], user, left) == 1 then
      local nodes = redis.call('HGET', KEYS[1], user)
      redis.call('HINCRBY', KEYS[1], user, 1)
      if not nodes then
        redis.call('PUBLISH', ARGV[3], ARGV[i + 2])
        joined[#joined + 1] = user
      elseif nodes == '0' then
        redis.call('ZREM', KEYS[3], left)
      end
      if info ~= '' then
        if not nodes then redis.call('HSET', KEYS[7], user, info)
        else redis.call('HSETNX', KEYS[7], user, info) end
      end
    end
  elseif redis.call('HDEL', KEYS[2], user) == 1 then
    if redis.call('HINCRBY', KEYS[1], user, -1) <= 0 then
      redis.call('HSET', KEYS[1], user, 0)
      redis.call('ZADD', KEYS[3], due, left)
    end
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SADD', KEYS[4], ARGV[2])
  redis.call('SADD', KEYS[5], ARGV[1])
else
  redis.call('SREM', KEYS[4], ARGV[2])
end
return joined
