-- KEYS: meta, stream. ARGV: epoch, offset. Drops the epoch's messages up to the offset; the meta
-- stays (until it expires), so that resumes from before them answer recovered: false.
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then
  redis.call('XTRIM', KEYS[2], 'MINID', (tonumber(ARGV[2]) + 1) .. '-0')
end
