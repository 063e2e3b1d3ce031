-- Shared by the scripts: the Redis time in ms; the channel's epoch and top (epoch false when it
-- has none); `epoch_at`, an epoch begun at a time, made as `newEpoch` (epoch.ts) makes them, with
-- ARGV[1]'s random digits; `start_of`, when an epoch began (nil when it does not say); and
-- `begin`, which stores a new epoch. KEYS[1] is the meta hash, KEYS[2] the stream, ARGV[2] the ttl
-- in ms.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function epoch_at(ms)
  local out = ''
  for _ = 1, 11 do
    local digit = ms % 16
    out = string.sub('0123456789abcdef', digit + 1, digit + 1) .. out
    ms = (ms - digit) / 16
  end
  return out .. ARGV[1]
end
local function start_of(e)
  if #e ~= 16 or not string.match(e, '^%x+$') then return nil end
  return tonumber(string.sub(e, 1, 11), 16)
end
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'top')
local epoch = meta[1]
local top = tonumber(meta[2] or '0')
-- A new epoch starts with an empty history, whatever an earlier one left behind. `after`, when
-- the stream went backwards, is where the epoch it replaces stood ('<epoch>:<offset>'), kept as
-- the meta's `prev`: a node that delivered that much goes on into the new epoch.
local function begin(after)
  epoch = epoch_at(now)
  top = 0
  redis.call('DEL', KEYS[1], KEYS[2])
  if after then
    redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0, 'prev', after)
  else
    redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
-- The offsets of `epoch` went backwards: what was given out past `seen` may have been lost, and
-- must not be given out again with other messages. Starts the next epoch after `seen`.
local function went_back(seen)
  begin(epoch .. ':' .. string.format('%d', seen))
end
