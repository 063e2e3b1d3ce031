-- KEYS: meta, stream, the channel's node counts. ARGV: random epoch digits, ttl ms, size, payload
-- JSON, pub/sub channel, the channel's name as JSON, the publisher's user as JSON ('' for none: an
-- API broadcast), the mark that leaves the sender out (see RedisBroker), the command that
-- publishes ('PUBLISH', or 'SPUBLISH' on Redis Cluster), then pairs of epoch and offset: positions of the channel the publishing node has seen. Returns [offset, epoch, counts
-- as a flat list].
-- Runs as one script after history_prelude.lua, whose functions it calls.
if not epoch then begin() end
-- A position seen past the top of the same epoch: the stream went backwards (a failover lost the
-- last writes). Its next offsets were given out already, with other messages.
local seen = top
for i = 10, #ARGV - 1, 2 do
  if ARGV[i] == epoch and tonumber(ARGV[i + 1]) > seen then seen = tonumber(ARGV[i + 1]) end
end
if seen > top then went_back(seen) end
top = top + 1
-- Kept first: should it fail, the offset is not used up. The user is field 'u', after 't'.
if ARGV[7] == '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], top .. '-0', 'p', ARGV[4], 't', now)
else
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], top .. '-0', 'p', ARGV[4], 't', now, 'u', ARGV[7])
end
redis.call('HSET', KEYS[1], 'top', top)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local user = ''
if ARGV[7] ~= '' then user = ', "user": ' .. ARGV[7] end
local frame = '{"message": ' .. ARGV[4] .. ', "channel": ' .. ARGV[6] .. user .. ', "offset": ' .. top .. '}'
redis.call(ARGV[9], ARGV[5], ARGV[8] .. top .. ' ' .. epoch .. ' ' .. frame)
return {top, epoch, redis.call('HGETALL', KEYS[3])}
