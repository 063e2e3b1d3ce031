-- KEYS: meta, stream. ARGV: random epoch digits, ttl ms, epoch, offset. A node found that the
-- channel's stream went backwards after it delivered the offset of the epoch: unless the channel
-- is in another epoch already, a new one begins after the higher of that offset and the top.
-- Returns the channel's epoch.
-- Runs as one script after history_prelude.lua, whose functions it calls.
if epoch == ARGV[3] then went_back(math.max(top, tonumber(ARGV[4]))) end
return epoch
