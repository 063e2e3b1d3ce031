-- KEYS: the channels with pending lefts. ARGV: the most to return. Returns those listed as due
-- by now (Redis time), each followed by the score it is listed with.
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
