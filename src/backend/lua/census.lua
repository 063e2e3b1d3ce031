-- KEYS: nodes. ARGV: this node's id, then the text before and after a node's id in its connections
-- key and in its counters key. Returns each other node live now by Redis's clock as {id, mirror
-- entries, report or nil}.
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local nodes = {}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ms, '+inf')) do
  if node ~= ARGV[1] then
    local entries = redis.call('HVALS', ARGV[2] .. node .. ARGV[3])
    nodes[#nodes + 1] = {node, entries, redis.call('GET', ARGV[4] .. node .. ARGV[5])}
  end
end
return nodes
