-- KEYS: the channel's node counts. ARGV: pub/sub channel, frame, the command that publishes
-- ('PUBLISH', or 'SPUBLISH' on Redis Cluster). Returns the counts as a flat
-- list. The MULTI of `publish` as one call, so that calls for many channels can share a pipeline
-- and each still counts at the moment of its publish.
redis.call(ARGV[3], ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
