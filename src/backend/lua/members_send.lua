-- KEYS: the channel's members, its pending lefts, their frames, its infos (one slot: the
-- channel's). ARGV: the publish command ('PUBLISH'), the channel's pub/sub channel, the most
-- lefts to send. Publishes the due lefts of the users still gone, each once whoever sweeps.
-- Returns {the users whose left it sent, when the channel's next pending left is due (ms, 0
-- for none)}.
local sent = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, user in ipairs(due) do
  local left = redis.call('HGET', KEYS[3], user)
  redis.call('ZREM', KEYS[2], user)
  redis.call('HDEL', KEYS[3], user)
  if left and redis.call('HGET', KEYS[1], user) == '0' then
    redis.call('HDEL', KEYS[1], user)
    redis.call('HDEL', KEYS[4], user)
    redis.call(ARGV[1], ARGV[2], cjson.decode(left).frame)
    sent[#sent + 1] = user
  end
end
return {sent, first_due(KEYS[2])}
