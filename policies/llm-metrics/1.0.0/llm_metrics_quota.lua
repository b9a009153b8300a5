--- Request-time token quota check through the 3scale backend `authorize` endpoint.
-- `authorize` checks `current + delta <= limit` for every limit on the metrics in the usage and
-- counts nothing. The delta asked for is this request's upper-bound estimate (`estimate` below) plus
-- what this worker counted but has not flushed yet, so one request can never take more than what is
-- left (issue 28: 2,048 embedding inputs used to pass a 20,000-token quota with delta 1). The real
-- counts are reported after the response; what can still overshoot is in the README (Quota).

local Batcher = require('llm_metrics_batcher')

local pairs = pairs
local ipairs = ipairs
local tonumber = tonumber
local tostring = tostring
local find = string.find
local match = string.match
local ceil = math.ceil
local max = math.max
local concat = table.concat

local _M = {}

local DEFAULT_STATUS = 429
local JSON_CONTENT_TYPE = 'application/json'

local function header(headers, name)
  return headers and headers[name]
end

-- Completion tokens assumed for a generation request that names no max_tokens (quota.default_max_tokens).
_M.DEFAULT_MAX_TOKENS = 4096

local MAX_TOKEN_FIELDS = { 'max_tokens', 'max_completion_tokens', 'max_output_tokens' }
local CHOICE_FIELDS = { 'n', 'best_of' }

-- The largest non-negative integer value of key `name` anywhere in the body, or nil. In JSON the bytes
-- `"name"` followed by `:` can only be a key (a quote inside a string is escaped); taking the largest
-- keeps the bound an upper one even if a nested object repeats the key. Plain finds: no decode.
local function largest(body, name)
  local key = '"' .. name .. '"'
  local best, pos = nil, 1
  while true do
    local at = find(body, key, pos, true)
    if not at then return best end
    local value = tonumber(match(body, '^%s*:%s*(%d+)', at + #key))
    if value and (not best or value > best) then best = value end
    pos = at + #key
  end
end

--- Upper bound of the tokens this request can be billed, by metric (metric -> n), from its body:
-- prompt <= the body's bytes (a text token is at least one byte, a token id at least two with its
-- separator); completion <= the largest max_tokens-like field times the choices asked for (`n`,
-- `best_of`), or `default_max_tokens` for a generation without one; none for embeddings and for a body
-- that is not a JSON object. Each rule adds its field's bound, divided by its `per` (rounded up).
-- The sandbox gateway's llm_metrics.estimate_usage computes the same numbers.
function _M.estimate(rules, body, bytes, path, default_max_tokens)
  local prompt = bytes or 0
  local completion = 0
  if type(body) == 'string' and find(body, '^%s*{') then
    local limit
    for _, field in ipairs(MAX_TOKEN_FIELDS) do
      local value = largest(body, field)
      if value and (not limit or value > limit) then limit = value end
    end
    if limit then
      local choices = 1
      for _, field in ipairs(CHOICE_FIELDS) do choices = max(choices, largest(body, field) or 1) end
      completion = limit * choices
    elseif not (path and find(path, '/embeddings/?$')) then
      completion = default_max_tokens or _M.DEFAULT_MAX_TOKENS
    end
  end
  local by_field = { prompt_tokens = prompt, completion_tokens = completion, total_tokens = prompt + completion }
  local estimate = {}
  for _, rule in ipairs(rules) do
    local value = by_field[rule.usage] or (prompt + completion)
    local per = rule.per or 1
    if per > 1 then value = ceil(value / per) end
    estimate[rule.metric] = (estimate[rule.metric] or 0) + value
  end
  return estimate
end


local function backend_unavailable(status)
  return not status or status == 0 or status >= 499
end

-- The limit that refused `usage`: from the usage reports of authorize's XML answer when there is one
-- (`exceeded="true"`, else the first whose current value + the delta asked for passes its max: it
-- names metric and period), else from apisonator's limit headers (limit_headers=1, which APIcast's
-- backend client asks for together with no_body=1: the most constrained limit's max and remaining).
local function refused_limit(res, usage)
  local body = res.body
  if type(body) == 'string' and find(body, '<usage_report', 1, true) then
    -- `%s`: not the `<usage_reports>` wrapper, which would swallow the first report
    for attributes, inner in body:gmatch('<usage_report%s([^>]*)>(.-)</usage_report>') do
      local metric = match(attributes, 'metric="([^"]*)"')
      local limit = tonumber(match(inner, '<max_value>(%d+)</max_value>'))
      local current = tonumber(match(inner, '<current_value>(%d+)</current_value>'))
      if metric and limit and current and (find(attributes, 'exceeded="true"', 1, true)
          or current + (usage['usage[' .. metric .. ']'] or 0) > limit) then
        return { metric = metric, period = match(attributes, 'period="([^"]*)"'), limit = limit,
                 remaining = max(0, limit - current) }
      end
    end
  end
  local limit = tonumber(header(res.headers, '3scale-limit-max-value'))
  if not limit then return nil end
  return { limit = limit, remaining = tonumber(header(res.headers, '3scale-limit-remaining')) }
end

--- The `X-LLM-Quota` header of a refusal: the limit, its period and metric when 3scale named them,
-- what is left, and this request's own upper bound (`requested`).
function _M.describe(report, requested)
  if not report then return nil end
  local parts = {}
  if report.metric then parts[#parts + 1] = 'metric=' .. report.metric end
  parts[#parts + 1] = 'limit=' .. tostring(report.limit)
  if report.period then parts[#parts + 1] = 'period=' .. report.period end
  if report.remaining then parts[#parts + 1] = 'remaining=' .. tostring(report.remaining) end
  if requested then parts[#parts + 1] = 'requested=' .. tostring(requested) end
  return concat(parts, '; ')
end

--- Returns 'admit' or 'reject', then for a rejection the Retry-After seconds (string) and the
-- X-LLM-Quota description. `estimate` (metric -> n): this request's upper bound (see `estimate`);
-- `pending` (metric -> n): tokens already counted by this gateway but not flushed to 3scale yet.
-- Both are added to the delta asked for: usage + pending + this request <= limit, or 429.
function _M.check(service, credentials, metrics, pending, estimate)
  if not service or not credentials then
    ngx.log(ngx.WARN, 'llm-metrics quota: no service or credentials in context, admitting')
    return 'admit'
  end

  local usage = {}
  for _, metric in ipairs(metrics) do
    local own = max(1, (estimate and estimate[metric]) or 1)
    usage['usage[' .. metric .. ']'] = own + ((pending and pending[metric]) or 0)
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
    local report = refused_limit(res, usage)
    local own
    if estimate then
      own = report and report.metric and estimate[report.metric]
      if not own then -- no metric named: the largest own bound among the quota metrics
        for _, metric in ipairs(metrics) do own = max(own or 0, estimate[metric] or 0) end
      end
    end
    return 'reject', (reset and reset >= 0) and tostring(reset) or nil, _M.describe(report, own), report
  end

  -- Bad credentials, unknown metric, ...: the apicast policy answers those itself.
  ngx.log(ngx.WARN, 'llm-metrics quota: authorize answered ', tostring(status), ' (',
          tostring(reason), '), leaving the decision to the apicast policy')
  return 'admit'
end

--- The refusal's body in OpenAI's error shape (the SDK shows `error.message`), naming the limit and its
-- period when authorize's answer told them (`report` from refused_limit).
-- APIcast's backend client asks authorize for headers only (no_body=1 unless OAuth native): then the limit's
-- value is known (3scale-limit-max-value) but not its metric or period, and the message says when it resets.
local function error_body(report, retry_after)
  local what = 'Token quota of your plan reached.'
  local wait = ''
  if retry_after then
    wait = ' Retry after ' .. retry_after .. (retry_after == '1' and ' second.' or ' seconds.')
  end
  if report and report.metric and report.period and report.limit then
    local span = report.period == 'eternity' and 'in total' or ('per ' .. report.period)
    what = 'Token quota of your plan reached: ' .. report.limit .. ' ' .. report.metric .. ' ' .. span .. '.'
  elseif report and report.limit then
    what = 'Token quota of your plan reached: a limit of ' .. report.limit .. ' ' .. (report.metric or 'tokens')
      .. (retry_after and (' whose period ends in ' .. retry_after .. ' seconds.') or ' that does not reset.')
    wait = ''
  end
  return '{"error":{"message":"' .. what .. wait .. ' The limits of each plan are shown on the developer portal."'
    .. ',"type":"tokens","param":null,"code":"rate_limit_exceeded"}}'
end

--- Ends the request like APIcast's own limits error (the service's status, Retry-After), with a JSON body
-- naming the limit and its period (the service's `error_limits_exceeded` is one fixed text per product), plus
-- the refused limit in X-LLM-Quota (e.g. `metric=total_tokens; limit=20000; period=day; remaining=20000;
-- requested=2211840`) so a client learns which limit, for which period, and how much is left.
function _M.reject(service, retry_after, quota, report)
  ngx.status = (service and service.limits_exceeded_status) or DEFAULT_STATUS
  ngx.header.content_type = JSON_CONTENT_TYPE
  if retry_after then ngx.header['Retry-After'] = retry_after end
  if quota then ngx.header['X-LLM-Quota'] = quota end
  ngx.print(error_body(report, retry_after))
  return ngx.exit(ngx.HTTP_OK)
end

return _M
