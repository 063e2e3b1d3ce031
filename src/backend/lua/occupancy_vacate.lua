-- KEYS: the channel's node counts, its occupied flag (one slot: the channel's). ARGV: now (ms).
-- Vacates the channel when its pending vacate is due and it is still empty. Returns 1 when this
-- call vacated it, 0 when it is no longer pending (occupied again, or vacated by another node),
-- or else the time its vacate is due (ms), to be looked at again then.
local flag = redis.call('GET', KEYS[2])
if not flag or flag == '0' then return 0 end
if #redis.call('HVALS', KEYS[1]) > 0 then
  redis.call('SET', KEYS[2], '0')
  return 0
end
if tonumber(flag) > tonumber(ARGV[1]) then return tonumber(flag) end
redis.call('DEL', KEYS[2])
return 1
