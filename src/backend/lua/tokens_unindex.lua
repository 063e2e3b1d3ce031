-- Removes a token from the set of its user's tokens, given its grant's JSON (or false) and what
-- comes before and after the user in that set's key.
local function unindex(grant, token, before, after)
  if not grant then return end
  local ok, decoded = pcall(cjson.decode, grant)
  if ok and type(decoded) == 'table' and type(decoded.user) == 'string' then
    redis.call('SREM', before .. decoded.user .. after, token)
  end
end
