-- KEYS: the channels with pending lefts. ARGV: triples of a channel, the score it was read with
-- ('' when not read), and when its first pending left is due (ms, 0 for none). A channel still
-- listed with the score it was read with takes the new time, or leaves the list when it has no
-- pending left; any other (listed again meanwhile, or not read) is listed at the new time
-- unless it is listed earlier.
for i = 1, #ARGV, 3 do
  local channel, read, due = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local listed = redis.call('ZSCORE', KEYS[1], channel)
  if listed and listed == read then
    if due > 0 then redis.call('ZADD', KEYS[1], due, channel)
    else redis.call('ZREM', KEYS[1], channel) end
  elseif due > 0 and (not listed or tonumber(listed) > due) then
    redis.call('ZADD', KEYS[1], due, channel)
  end
end
return 0
