-- KEYS: the channel's members, its pending lefts, their frames (one slot: the channel's). ARGV:
-- a user, when their left is due (ms), the left (the JSON of {"channel", "user", "frame"}), as
-- Boreas 0.1 listed it with every channel's. Keeps it with the channel's own, unless the user
-- came back or it is kept there already. Returns when the channel's first pending left is due
-- (ms, 0 for none).
if redis.call('HGET', KEYS[1], ARGV[1]) == '0' and not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
end
return first_due(KEYS[2])
