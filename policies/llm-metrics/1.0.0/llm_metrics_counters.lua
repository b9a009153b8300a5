--- The policy's Prometheus counters, added up per label set in this worker and handed to
-- `apicast.prometheus` on the batcher's timer (every 0.5 s, and at worker exit), not per request.
-- A labelled `counter:inc` of the nginx-lua-prometheus APIcast ships builds the sample's name from
-- its labels and increments a shared dict under its lock on every call: three of those per
-- response were a large part of what the policy cost inside APIcast (issue 27). Here a response
-- costs a few table updates; the exposition lags by at most one timer interval.
-- Without a metrics listener `apicast.prometheus(...)` returns nil: nothing is kept at all.

local prometheus = require('apicast.prometheus')

local pairs = pairs
local next = next

local _M = {}

local LABELS = { 'service_id', 'service_system_name', 'application_id', 'model' }
local FIELDS = { 'prompt_tokens', 'completion_tokens', 'total_tokens' }

local counters = {
  prompt_tokens = prometheus('counter', 'llm_prompt_tokens_total',
    'Prompt (input) tokens counted: reported by the upstream, or estimated when it sent no usage', LABELS),
  completion_tokens = prometheus('counter', 'llm_completion_tokens_total',
    'Completion (output) tokens counted: reported by the upstream, or estimated when it sent no usage', LABELS),
  total_tokens = prometheus('counter', 'llm_total_tokens_total',
    'Total tokens counted: reported by the upstream, or estimated when it sent no usage', LABELS),
}
local estimated_reports = prometheus('counter', 'llm_estimated_reports_total',
  'Responses without usage whose tokens were estimated', { 'service_id', 'service_system_name' })

_M.enabled = counters.total_tokens ~= nil

-- label values joined -> { labels = {...}, prompt_tokens = n, ..., estimated = n }
local pending = {}

local function entry_for(service_id, system_name, app_id, model)
  local key = service_id .. '\0' .. system_name .. '\0' .. app_id .. '\0' .. model
  local entry = pending[key]
  if not entry then
    entry = { labels = { service_id, system_name, app_id, model },
              prompt_tokens = 0, completion_tokens = 0, total_tokens = 0, estimated = 0 }
    pending[key] = entry
  end
  return entry
end

--- Count one response's tokens (`counts`: field -> n) under its labels; `estimated` when they are.
-- Returns true when something was kept (so the caller makes sure a timer will flush it).
function _M.add(service_id, system_name, app_id, model, counts, estimated)
  if not _M.enabled then return false end
  local entry = entry_for(service_id, system_name, app_id, model)
  for i = 1, #FIELDS do
    local field = FIELDS[i]
    local value = counts[field]
    if value then entry[field] = entry[field] + value end
  end
  if estimated then entry.estimated = entry.estimated + 1 end
  return true
end

function _M.has_pending()
  return next(pending) ~= nil
end

--- Hand everything kept to the Prometheus counters.
function _M.flush()
  local batch = pending
  pending = {}
  for _, entry in pairs(batch) do
    local labels = entry.labels
    for field, counter in pairs(counters) do
      local value = entry[field]
      if value > 0 then counter:inc(value, labels) end
    end
    if entry.estimated > 0 and estimated_reports then
      estimated_reports:inc(entry.estimated, { labels[1], labels[2] })
    end
  end
end

function _M.reset()
  pending = {}
end

return _M
