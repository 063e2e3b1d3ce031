-- KEYS: the channel's members, its infos. ARGV: the most to list, '1' to read their infos. Returns
-- [how many, users listed..., their infos...].
local users = redis.call('HKEYS', KEYS[1])
local listed = {#users}
local n = math.min(#users, tonumber(ARGV[1]))
for i = 1, n do listed[i + 1] = users[i] end
if ARGV[2] == '1' and n > 0 then
  local infos = redis.call('HMGET', KEYS[2], unpack(listed, 2, n + 1))
  for i = 1, n do listed[n + 1 + i] = infos[i] or '' end
end
return listed
