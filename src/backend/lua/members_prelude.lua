-- Shared by the members' scripts: `now`, the Redis time in ms, and `first_due`, when the first
-- pending left of a channel's sorted set of them is due (ms), 0 when none is.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function first_due(leaving)
  local first = redis.call('ZRANGE', leaving, 0, 0, 'WITHSCORES')
  return tonumber(first[2] or 0)
end
