--- Making streaming chat/completions requests ask for the usage in their last event.
-- Bodies that need no change are returned as nil so the caller leaves them byte for byte.

local cjson = require('cjson')

local find = string.find
local sub = string.sub
local match = string.match
local pcall = pcall
local type = type

local _M = {}

-- A private cjson instance (when the build offers one) so settings do not leak into other
-- policies; with OpenResty's cjson, decoded arrays keep encoding as arrays (`[]` not `{}`).
local json = cjson.new and cjson.new() or cjson
if json.decode_array_with_array_mt then json.decode_array_with_array_mt(true) end

local INSERTION = ',"stream_options":{"include_usage":true}'

--- Returns the body to send upstream when it must change, else nil; a reason for the log; and the
-- request's `model` when the body was decoded on the way (nil otherwise: see model_in).
-- Only JSON objects with `"stream": true` are touched:
--  * no `stream_options` key: INSERTION is spliced in before the last `}` (no re-encoding);
--  * `stream_options.include_usage` already true: unchanged;
--  * anything else: decoded, `stream_options.include_usage` set, re-encoded.
function _M.with_include_usage(body)
  if type(body) ~= 'string' or not find(body, '"stream"', 1, true) then
    return nil, 'not streaming'
  end

  local ok, request = pcall(json.decode, body)
  if not ok or type(request) ~= 'table' then return nil, 'not a JSON object' end
  local model = request.model
  if type(model) ~= 'string' then model = nil end
  if request.stream ~= true then return nil, 'not streaming', model end

  local options = request.stream_options
  if options == nil then
    local last_brace = match(body, '.*()}')
    return sub(body, 1, last_brace - 1) .. INSERTION .. sub(body, last_brace), 'stream_options added', model
  end

  if type(options) == 'table' and options.include_usage == true then
    return nil, 'include_usage already true', model
  end

  if type(options) ~= 'table' then
    options = {}
    request.stream_options = options
  end
  options.include_usage = true

  local encoded, encoded_ok = nil, false
  encoded_ok, encoded = pcall(json.encode, request)
  if not encoded_ok then return nil, 'cannot re-encode body', model end
  return encoded, 'include_usage set to true', model
end

--- The request's `model` without decoding the body: the value of the first `"model"` key whose value
-- is a plain string. Inside a JSON string a quote is always escaped, so the bytes `"model"` followed
-- by `:` can only be a key; OpenAI requests name `model` at the top level and nowhere else with a
-- string value. A value with escapes (or no such key) falls back to decoding, bounded by the body.
function _M.model_in(body)
  if type(body) ~= 'string' then return nil end
  local at = find(body, '"model"', 1, true)
  if not at then return nil end
  local model = match(body, '^%s*:%s*"([^"\\]*)"', at + 7)
  if model then return model end
  local ok, request = pcall(json.decode, body)
  if ok and type(request) == 'table' and type(request.model) == 'string' then
    return request.model
  end
  return nil
end

return _M
