-- KEYS: historyBegan. Sets it to the Redis time (ms) unless it is set; returns it.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('SET', KEYS[1], string.format('%d', now), 'NX')
return redis.call('GET', KEYS[1])
