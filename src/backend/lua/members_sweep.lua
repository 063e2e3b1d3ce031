-- KEYS: the pending lefts, the nodes with members, the live nodes. ARGV: the key prefix, leave
-- delay (ms), the most lefts to send, the members' kind (see RedisKeys.memberChannels). Reaps the
-- members of every node gone from the live nodes (they are going, as if their connections had
-- closed now), then publishes the due lefts of the users still gone. A pending left is the JSON of
-- {"channel", "user", "frame"}: the hub's channel, the user, and the frame to publish. Returns the
-- nodes reaped and the lefts sent.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local prefix = ARGV[1]
local reaped = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not redis.call('ZSCORE', KEYS[3], node) then
    local channels = prefix .. ':node:{' .. node .. '}:members' .. ARGV[4]
    for _, channel in ipairs(redis.call('SMEMBERS', channels)) do
      local members = prefix .. ':{' .. channel .. '}:members'
      local users = prefix .. ':{' .. channel .. '}:users:' .. node
      local mine = redis.call('HGETALL', users)
      for i = 1, #mine, 2 do
        if redis.call('HINCRBY', members, mine[i], -1) <= 0 then
          redis.call('HSET', members, mine[i], 0)
          redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), mine[i + 1])
        end
      end
      redis.call('DEL', users)
    end
    redis.call('DEL', channels)
    redis.call('SREM', KEYS[2], node)
    reaped[#reaped + 1] = node
  end
end
local sent = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, left in ipairs(due) do
  redis.call('ZREM', KEYS[1], left)
  local pending = cjson.decode(left)
  local members = prefix .. ':{' .. pending.channel .. '}:members'
  if redis.call('HGET', members, pending.user) == '0' then
    redis.call('HDEL', members, pending.user)
    redis.call('HDEL', prefix .. ':{' .. pending.channel .. '}:infos', pending.user)
    redis.call('PUBLISH', prefix .. ':' .. pending.channel, pending.frame)
    sent[#sent + 1] = left
  end
end
return {reaped, sent}
