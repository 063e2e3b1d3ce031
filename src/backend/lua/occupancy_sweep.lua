-- KEYS: the pending vacates. ARGV: now (ms), the key prefix. Returns the channels this call found
-- vacated: due, still empty, and announced occupied.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local vacated = {}
for _, channel in ipairs(due) do
  redis.call('ZREM', KEYS[1], channel)
  local tag = ARGV[2] .. ':{' .. channel .. '}'
  if #redis.call('HVALS', tag .. ':nodes') == 0 and redis.call('DEL', tag .. ':occupied') == 1 then
    vacated[#vacated + 1] = channel
  end
end
return vacated
