-- KEYS: meta, stream, the channel's node counts. Removes the meta of a channel that no node counts
-- subscribers of and that keeps no stream.
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
end
