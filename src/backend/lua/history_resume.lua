-- KEYS: meta, stream, the channel's node counts. ARGV: random epoch digits, ttl ms, since offset
-- ('' for none), since epoch, when the history began (`historyBegan`). Returns [top, epoch]
-- without a since, else [top, epoch, recovered 1/0, [payload, user JSON or '', ...] after since].
-- A channel without meta gets one only while some node counts subscribers of it; otherwise it is
-- answered with a new epoch that is not stored.
-- Runs as one script after history_prelude.lua, whose functions it calls.
if not epoch then
  if redis.call('EXISTS', KEYS[3]) == 1 then begin() else epoch = epoch_at(now) end
end
if ARGV[3] == '' then return {top, epoch} end
local since = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
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
if since > top then return {top, epoch, 0, {}} end
if since == top then return {top, epoch, 1, {}} end
local entries = redis.call('XRANGE', KEYS[2], '(' .. since .. '-0', '+')
if #entries ~= top - since then return {top, epoch, 0, {}} end
local oldest = now - ttl
local payloads = {}
for i, entry in ipairs(entries) do
  if tonumber(entry[2][4]) <= oldest then return {top, epoch, 0, {}} end
  payloads[2 * i - 1] = entry[2][2]
  payloads[2 * i] = entry[2][6] or ''
end
return {top, epoch, 1, payloads}
