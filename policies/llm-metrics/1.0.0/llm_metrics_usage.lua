--- Reading the OpenAI `usage` object and turning it into 3scale metric deltas.

local cjson = require('cjson')

local pcall = pcall
local find = string.find
local type = type
local pairs = pairs
local ipairs = ipairs
local floor = math.floor
local ceil = math.ceil
local huge = math.huge

local _M = {}

_M.FIELDS = { 'prompt_tokens', 'completion_tokens', 'total_tokens' }

--- Decode `text` as a JSON object; returns the table, or nil and a reason (never raises).
function _M.decode_object(text)
  if type(text) ~= 'string' or not find(text, '%S') then return nil, 'empty body' end
  -- cjson turns arrays into tables too; the first character tells them apart (and rejects
  -- HTML error pages without a decode attempt).
  if not find(text, '^%s*{') then return nil, 'JSON is not an object' end
  local ok, value = pcall(cjson.decode, text)
  if not ok then return nil, 'invalid JSON' end
  if type(value) ~= 'table' then return nil, 'JSON is not an object' end
  return value
end

local function count(value)
  if type(value) ~= 'number' or value ~= value or value == huge then return nil end
  value = floor(value)
  if value > 0 then return value end
  return nil
end

--- The token counts of a decoded response object: a table with the positive integer fields
-- of its `usage` object, or nil when it has no usage object at all.
function _M.from_object(object)
  local usage = type(object) == 'table' and object.usage
  if type(usage) ~= 'table' then return nil end

  local counts = {}
  for _, field in ipairs(_M.FIELDS) do
    counts[field] = count(usage[field])
  end
  return counts
end

-- Bytes per token assumed by the estimate: the usual rule of thumb for English text with BPE
-- tokenizers; JSON framing in the counted bytes makes it err on the high side.
_M.BYTES_PER_TOKEN = 4

--- Counts for a response that carried no usage: prompt tokens from the request body bytes,
-- completion tokens from the SSE data events seen (OpenAI-compatible servers send about one token
-- per event) or, for any other body, from the response bytes; total = prompt + completion.
function _M.estimate(request_bytes, sse_events, response_bytes)
  local prompt = ceil((request_bytes or 0) / _M.BYTES_PER_TOKEN)
  local completion
  if sse_events then
    completion = sse_events
  else
    completion = ceil((response_bytes or 0) / _M.BYTES_PER_TOKEN)
  end
  return {
    prompt_tokens = count(prompt),
    completion_tokens = count(completion),
    total_tokens = count(prompt + completion),
  }
end

--- The model string of a decoded object, or nil.
function _M.model_of(object)
  local model = type(object) == 'table' and object.model
  if type(model) == 'string' then return model end
  return nil
end

local function status_listed(statuses, status)
  for _, s in ipairs(statuses) do
    if s == status then return true end
  end
  return false
end

--- Whether any rule would report a response with this upstream status.
function _M.any_rule_for_status(rules, status)
  for _, rule in ipairs(rules) do
    if status_listed(rule.statuses, status) then return true end
  end
  return false
end

--- Metric deltas (metric -> increment) for the rules matching `status`; nil when empty.
-- A rule with `per` > 1 reports whole multiples of `per` (thousands of tokens for a priced metric)
-- and keeps the remainder in `carry` (metric -> remainder, one table per application), so what is
-- reported over time is floor(total / per); without `carry` the remainder is dropped.
function _M.deltas(rules, counts, status, carry)
  if not counts then return nil end
  local deltas, found = {}, false
  for _, rule in ipairs(rules) do
    local value = counts[rule.usage]
    if value and status_listed(rule.statuses, status) then
      local per = rule.per or 1
      if per > 1 then
        local pending = value + (carry and carry[rule.metric] or 0)
        value = floor(pending / per)
        if carry then carry[rule.metric] = pending - value * per end
      end
      if value > 0 then
        deltas[rule.metric] = (deltas[rule.metric] or 0) + value
        found = true
      end
    end
  end
  if found then return deltas end
  return nil
end

--- Copy of `deltas` for logging and tests, with keys sorted.
function _M.describe(deltas)
  local keys = {}
  for k in pairs(deltas or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. '=' .. deltas[k] end
  return table.concat(parts, '&')
end

return _M
