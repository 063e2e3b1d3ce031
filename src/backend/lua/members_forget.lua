-- KEYS: the live nodes, a dead node's channels with members, the nodes with members (one slot:
-- `{nodes}`). ARGV: the node's id, then the channels whose members of it were reaped. Takes
-- them off its list, and the node off the nodes with members once its list is empty, unless
-- the node is live again: it then keeps its list, which it writes to again. Returns 1 when the
-- node is forgotten, else 0.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
for i = 2, #ARGV do redis.call('SREM', KEYS[2], ARGV[i]) end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
redis.call('SREM', KEYS[3], ARGV[1])
return 1
