-- KEYS: meta, stream. ARGV: random epoch digits, ttl ms, since, limit. Returns [top, epoch,
-- offset, payload, user JSON or '', offset, ...] for the unexpired messages after since. Stores
-- nothing.
-- Runs as one script after history_prelude.lua, whose functions it calls.
if not epoch then return {0, epoch_at(now)} end
local oldest = now - tonumber(ARGV[2])
local limit = tonumber(ARGV[4])
local out = {top, epoch}
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[3] .. '-0', '+')
for _, entry in ipairs(entries) do
  if #out >= 2 + 3 * limit then break end
  if tonumber(entry[2][4]) > oldest then
    out[#out + 1] = tonumber(string.match(entry[1], '^(%d+)'))
    out[#out + 1] = entry[2][2]
    out[#out + 1] = entry[2][6] or ''
  end
end
return out
