-- KEYS: the nodes with members, the live nodes (one slot: `{nodes}`). Returns the nodes with
-- members that are gone from the live nodes, for their members to be reaped.
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not redis.call('ZSCORE', KEYS[2], node) then dead[#dead + 1] = node end
end
return dead
