-- KEYS: the live nodes, this node's channels with members, the nodes with members (one slot:
-- `{nodes}`). ARGV: the node's id, then the channels whose members it is about to write. Lists
-- them as the node's before they are written, so that whoever finds the node dead finds them.
-- Returns 0, listing nothing, when the node is not live (it was reaped, or Redis lost its data:
-- it writes all again once it is), else 1.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
for i = 2, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('SADD', KEYS[3], ARGV[1])
return 1
