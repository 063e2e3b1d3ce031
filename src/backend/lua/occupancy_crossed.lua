-- KEYS: the channel's node counts, its occupied flag (one slot: the channel's). ARGV: when a
-- vacate would be due (ms). The flag holds '0' while the channel is occupied, or when its
-- pending vacate is due. Returns 1 when this call made the channel occupied, 2 when it set a
-- vacate pending (the caller then lists the channel among the pending vacates), else 0.
local total = 0
for _, count in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(count) end
if total > 0 then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('SET', KEYS[2], '0')
    return 1
  end
  redis.call('SET', KEYS[2], '0')
  return 0
end
local flag = redis.call('GET', KEYS[2])
-- '1': the flag as Boreas 0.1 set it, occupied.
if flag == '0' or flag == '1' then
  redis.call('SET', KEYS[2], ARGV[1])
  return 2
end
return 0
