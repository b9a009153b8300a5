--- Request-time token quota check through the 3scale backend `authorize` endpoint.
-- `authorize` checks `current + delta <= limit` for every limit on the metrics in the usage and
-- counts nothing, so asking with delta 1 admits a request while the quota is not used up; the real
-- counts are reported after the response (overshoot <= one request's tokens per request in flight).

local backend_client = require('apicast.backend_client')

local pairs = pairs
local ipairs = ipairs
local tonumber = tonumber
local tostring = tostring

local _M = {}

local DEFAULT_STATUS = 429
local JSON_CONTENT_TYPE = 'application/json'

local function header(headers, name)
  return headers and headers[name]
end

local function backend_unavailable(status)
  return not status or status == 0 or status >= 499
end

--- The exceeded limit in an apisonator authorize answer: its XML lists a `usage_report` per limit, with
-- `exceeded="true"` on those over (apisonator transactor/status.rb). Returns {metric, period, max} or nil.
local function exceeded_limit(body)
  if type(body) ~= 'string' then return nil end
  for attributes, inner in body:gmatch('<usage_report%s([^>]*)>(.-)</usage_report>') do
    if attributes:find('exceeded="true"', 1, true) then
      local metric = attributes:match('metric="([%w_%.%-]+)"')
      local period = attributes:match('period="(%a+)"')
      local max = inner:match('<max_value>(%d+)</max_value>')
      if metric and period and max then return { metric = metric, period = period, max = max } end
    end
  end
  return nil
end

--- Returns 'admit' or 'reject', and for a rejection the Retry-After seconds (string) and the exceeded limit.
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

  local backend, err = backend_client:new(service)
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
    return 'reject', (reset and reset >= 0) and tostring(reset) or nil, exceeded_limit(res.body)
  end

  -- Bad credentials, unknown metric, ...: the apicast policy answers those itself.
  ngx.log(ngx.WARN, 'llm-metrics quota: authorize answered ', tostring(status), ' (',
          tostring(reason), '), leaving the decision to the apicast policy')
  return 'admit'
end

--- The refusal in OpenAI's error shape (the SDK shows `error.message`), naming the limit and its period.
local function error_body(limit, retry_after)
  local what = 'Token quota of your plan reached.'
  if limit then
    local span = limit.period == 'eternity' and 'in total' or ('per ' .. limit.period)
    what = 'Token quota of your plan reached: ' .. limit.max .. ' ' .. limit.metric .. ' ' .. span .. '.'
  end
  local wait = ''
  if retry_after then
    wait = ' Retry after ' .. retry_after .. (retry_after == '1' and ' second.' or ' seconds.')
  end
  return '{"error":{"message":"' .. what .. wait .. ' The limits of each plan are shown on the developer portal."'
    .. ',"type":"tokens","param":null,"code":"rate_limit_exceeded"}}'
end

--- Ends the request like APIcast's own limits error: the service's status, Retry-After, a JSON body.
function _M.reject(service, retry_after, limit)
  ngx.status = (service and service.limits_exceeded_status) or DEFAULT_STATUS
  ngx.header.content_type = JSON_CONTENT_TYPE
  if retry_after then ngx.header['Retry-After'] = retry_after end
  ngx.print(error_body(limit, retry_after))
  return ngx.exit(ngx.HTTP_OK)
end

return _M
