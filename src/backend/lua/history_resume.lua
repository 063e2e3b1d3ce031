-- KEYS: meta, stream, the channel's node counts. ARGV: random epoch digits, ttl ms, since offset
-- ('' for none), since epoch, when the history began (`historyBegan`), and '1' when a node asks
-- for what it missed ('' for a client's join), then pairs of epoch and offset: positions of the
-- channel the asking node has seen (delivered or published). Returns [top, epoch] without a since, else [top,
-- epoch, recovered 1/0, [payload, user JSON or '', ...] after since, [payload, user JSON or ''] of
-- the message at since when a node asks and it is kept].
-- A channel without meta gets one only while some node counts subscribers of it; otherwise it is
-- answered with a new epoch that is not stored.
-- Runs as one script after history_prelude.lua, whose functions it calls.
if not epoch then
  if redis.call('EXISTS', KEYS[3]) == 1 then begin() else epoch = epoch_at(now) end
end
-- A position the node has seen past the top of the same epoch: the stream went backwards (a
-- failover lost the last writes). The node's word is taken, before anything is answered.
local seen = top
for i = 7, #ARGV - 1, 2 do
  if ARGV[i] == epoch and tonumber(ARGV[i + 1]) > seen then seen = tonumber(ARGV[i + 1]) end
end
if seen > top then went_back(seen) end
if ARGV[3] == '' then return {top, epoch} end
local since = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
local is_node = ARGV[6] == '1'
if ARGV[4] ~= epoch then
  -- Offset 0 of an epoch no longer kept: the client had nothing, and missed nothing if its
  -- epoch began in this Redis's history, and the channel's epoch began after it, less than a
  -- ttl later, and keeps every offset from 1 (followsWithin in epoch.ts; a trim for
  -- --history-max-bytes keeps the meta, so that its top tells what went).
  local start, begun, began = start_of(ARGV[4]), start_of(epoch), tonumber(ARGV[5])
  if since ~= 0 or not start or not begun or not began or start <= began or start > now
    or begun < start or begun - start >= ttl then
    return {top, epoch, 0, {}}
  end
end
if since > top then
  -- Past the top of its own epoch: the stream went backwards (a failover lost the last writes),
  -- and its next offsets would be given out again with other messages. A node's word is taken,
  -- and the channel begins a new epoch; a client's is not (any client allowed to join could
  -- claim any offset and wipe the channel's history): it alone is told it did not recover.
  if is_node then went_back(since) end
  return {top, epoch, 0, {}}
end
if since == top and not is_node then return {top, epoch, 1, {}} end
-- A node compares the message at since with the one it delivered there.
local from = '(' .. since .. '-0'
if is_node and since > 0 then from = since .. '-0' end
local entries = redis.call('XRANGE', KEYS[2], from, '+')
local at = {}
if is_node and since > 0 and entries[1] and entries[1][1] == since .. '-0' then
  at = {entries[1][2][2], entries[1][2][6] or ''}
  table.remove(entries, 1)
end
if #entries ~= top - since then return {top, epoch, 0, {}} end
local oldest = now - ttl
local payloads = {}
for i, entry in ipairs(entries) do
  if tonumber(entry[2][4]) <= oldest then return {top, epoch, 0, {}} end
  payloads[2 * i - 1] = entry[2][2]
  payloads[2 * i] = entry[2][6] or ''
end
return {top, epoch, 1, payloads, at}
