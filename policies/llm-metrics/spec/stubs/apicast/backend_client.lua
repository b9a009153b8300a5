-- Stand-in for APIcast's `apicast.backend_client`: records every call; answers come from a
-- pluggable `M.backend` (default: authorize 200, report 202).
local M = { calls = {} }

local default_backend = {
  authorize = function() return { status = 200, headers = {} } end,
  report = function() return { status = 202, headers = {} } end,
}

M.backend = default_backend

function M.reset()
  M.calls = {}
  M.backend = default_backend
end

local client = {}
local client_mt = { __index = client }

function M:new(service)
  assert(service, 'backend_client:new without service')
  return setmetatable({ service = service }, client_mt)
end

function client:authorize(usage, credentials)
  local call = { kind = 'authorize', service_id = self.service.id, usage = usage, credentials = credentials }
  M.calls[#M.calls + 1] = call
  return M.backend.authorize(call)
end

function client:report(batch)
  local call = { kind = 'report', service_id = self.service.id, batch = batch }
  M.calls[#M.calls + 1] = call
  return M.backend.report(call)
end

--- The report calls made so far.
function M.reports()
  local reports = {}
  for _, call in ipairs(M.calls) do
    if call.kind == 'report' then reports[#reports + 1] = call end
  end
  return reports
end

--- Sum of every reported delta: metric -> value.
function M.reported_usage()
  local usage = {}
  for _, call in ipairs(M.reports()) do
    for _, deltas in pairs(call.batch.reports) do
      for metric, value in pairs(deltas) do usage[metric] = (usage[metric] or 0) + value end
    end
  end
  return usage
end

return M
