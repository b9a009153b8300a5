--- Token reports batched per service, credential and metric, flushed on a short timer.
-- As APIcast's 3scale Batcher policy does for hits: one backend report call carries every pending
-- transaction of a service, instead of one call after every response. Pending deltas live in this
-- worker's memory (no lua_shared_dict is needed in APIcast's nginx.conf); the quota check adds them
-- to what it asks `authorize`, so tokens not yet flushed are never admitted twice. Timers that are
-- still pending when the worker exits run early (`premature`), so a graceful stop flushes too.

local backend_client = require('apicast.backend_client')

local pairs = pairs
local next = next
local tostring = tostring
local setmetatable = setmetatable

local _M = { interval = 0.5 }

-- service id -> { service, by_kind = { [kind] = { [credential] = { [metric] = n } } } }
local pending = {}
local timer_scheduled = false

-- One backend client per service object, made on first use: APIcast's backend_client:new parses the
-- endpoint URL, looks up proxy settings in the environment and builds an HTTP client each time, a
-- large part of what the policy used to cost per request. Weak keys: a configuration reload brings
-- new service objects and the old clients go with the old ones.
local clients = setmetatable({}, { __mode = 'k' })

--- The backend client of `service`, or nil and an error.
function _M.client_for(service)
  local client = clients[service]
  if client then return client end
  local err
  client, err = backend_client:new(service)
  if not client then return nil, err end
  clients[service] = client
  return client
end

local function add_deltas(into, deltas)
  for metric, value in pairs(deltas) do
    into[metric] = (into[metric] or 0) + value
  end
end

--- Queue `deltas` (metric -> n) for the credential.
function _M.add(service, kind, credential, deltas)
  local key = tostring(service.id)
  local entry = pending[key]
  if not entry then
    entry = { service = service, by_kind = {} }
    pending[key] = entry
  end
  local credentials = entry.by_kind[kind]
  if not credentials then
    credentials = {}
    entry.by_kind[kind] = credentials
  end
  local metrics = credentials[credential]
  if not metrics then
    metrics = {}
    credentials[credential] = metrics
  end
  add_deltas(metrics, deltas)
  _M.schedule()
end

--- Deltas of one credential not reported yet (metric -> n), or nil.
function _M.pending(service_id, kind, credential)
  local entry = pending[tostring(service_id)]
  local credentials = entry and entry.by_kind[kind]
  return credentials and credentials[credential]
end

local function failed(res)
  return not res or (res.status ~= 200 and res.status ~= 202)
end

--- Report everything pending now: one backend call per service and credential type.
-- A failed call puts its deltas back for the next flush, except when the worker is exiting.
-- The Prometheus counts kept since the last flush go to the counters in the same step.
function _M.flush(premature)
  local counters = package.loaded['llm_metrics_counters']
  if counters then counters.flush() end
  local batches = pending
  pending = {}
  for _, entry in pairs(batches) do
    local backend, err = _M.client_for(entry.service)
    if not backend then
      ngx.log(ngx.ERR, 'llm-metrics: no backend client for service ', tostring(entry.service.id), ': ',
              tostring(err), ', token reports dropped')
    end
    for kind, credentials in pairs(backend and entry.by_kind or {}) do
      local res = backend:report({
        service_id = entry.service.id,
        credentials_type = kind,
        reports = credentials,
      })
      if failed(res) then
        ngx.log(ngx.WARN, 'llm-metrics: token report failed with status ', tostring(res and res.status),
                premature and ', dropped at worker exit' or ', kept for the next flush')
        if not premature then
          for credential, deltas in pairs(credentials) do
            _M.add(entry.service, kind, credential, deltas)
          end
        end
      end
    end
  end
end

local function on_timer(premature)
  timer_scheduled = false
  _M.flush(premature)
end

local function nothing_pending()
  local counters = package.loaded['llm_metrics_counters']
  return next(pending) == nil and not (counters and counters.has_pending())
end

function _M.schedule()
  if timer_scheduled or nothing_pending() then return end
  local ok, err = ngx.timer.at(_M.interval, on_timer)
  if ok then
    timer_scheduled = true
  else
    -- No timer (worker exiting, too many timers): report now rather than keep tokens unreported.
    ngx.log(ngx.INFO, 'llm-metrics: no report timer (', tostring(err), '), reporting now')
    _M.flush(true)
  end
end

--- Test helper: forget everything pending.
function _M.reset()
  pending = {}
  clients = setmetatable({}, { __mode = 'k' })
  timer_scheduled = false
end

return _M
