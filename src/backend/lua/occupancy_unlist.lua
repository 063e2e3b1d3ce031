-- KEYS: the pending vacates. ARGV: pairs of a channel and the due time it was read with (ms).
-- Removes each channel that is still listed with that time: one listed again meanwhile (a
-- new vacate pending) stays.
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return 0
