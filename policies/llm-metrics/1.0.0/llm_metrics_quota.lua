--- Request-time token quota check through the 3scale backend `authorize` endpoint.
-- `authorize` checks `current + delta <= limit` for every limit on the metrics in the usage and
-- counts nothing, so asking with delta 1 admits a request while the quota is not used up; the real
-- counts are reported after the response (overshoot <= one request's tokens per request in flight).

local Batcher = require('llm_metrics_batcher')

local pairs = pairs
local ipairs = ipairs
local tonumber = tonumber
local tostring = tostring

local _M = {}

local DEFAULT_STATUS = 429
local DEFAULT_BODY = 'Usage limit exceeded'
local DEFAULT_CONTENT_TYPE = 'text/plain; charset=us-ascii'

local function header(headers, name)
  return headers and headers[name]
end

local function backend_unavailable(status)
  return not status or status == 0 or status >= 499
end

--- Returns 'admit' or 'reject', and the Retry-After seconds (string) for a rejection.
-- `pending` (metric -> n): tokens already counted by this gateway but not flushed to 3scale yet;
-- they are added to the delta asked for, so they are never admitted a second time.
function _M.check(service, credentials, metrics, pending)
  if not service or not credentials then
    ngx.log(ngx.WARN, 'llm-metrics quota: no service or credentials in context, admitting')
    return 'admit'
  end

  local usage = {}
  for _, metric in ipairs(metrics) do
    usage['usage[' .. metric .. ']'] = 1 + ((pending and pending[metric]) or 0)
  end

  local backend, err = Batcher.client_for(service)
  if not backend then
    ngx.log(ngx.ERR, 'llm-metrics quota: no backend client: ', err, ', admitting')
    return 'admit'
  end

  local plain_credentials = {}
  for k, v in pairs(credentials) do
    if type(k) == 'string' then plain_credentials[k] = v end
  end

  local res = backend:authorize(usage, plain_credentials)
  local status = res and res.status

  if status == 200 then return 'admit' end

  if backend_unavailable(status) then
    ngx.log(ngx.WARN, 'llm-metrics quota: backend unavailable (status ', tostring(status), '), admitting')
    return 'admit'
  end

  local headers = res.headers
  local reason = header(headers, '3scale-rejection-reason')
  if reason == 'limits_exceeded' then
    local reset = tonumber(header(headers, '3scale-limit-reset'))
    return 'reject', (reset and reset >= 0) and tostring(reset) or nil
  end

  -- Bad credentials, unknown metric, ...: the apicast policy answers those itself.
  ngx.log(ngx.WARN, 'llm-metrics quota: authorize answered ', tostring(status), ' (',
          tostring(reason), '), leaving the decision to the apicast policy')
  return 'admit'
end

--- Ends the request like APIcast's own limits error, with the service's configured message.
function _M.reject(service, retry_after)
  ngx.status = (service and service.limits_exceeded_status) or DEFAULT_STATUS
  ngx.header.content_type = (service and service.limits_exceeded_headers) or DEFAULT_CONTENT_TYPE
  if retry_after then ngx.header['Retry-After'] = retry_after end
  ngx.print((service and service.error_limits_exceeded) or DEFAULT_BODY)
  return ngx.exit(ngx.HTTP_OK)
end

return _M
