--- llm-metrics: token accounting and token quotas for OpenAI-compatible upstreams.
-- rewrite: force stream_options.include_usage (any request whose body is a JSON object, also when
-- nginx buffered it to a file); access: optional quota check; header_filter/body_filter: read
-- `usage` from JSON or SSE without touching the bytes; post_action (also after a client abort):
-- count tokens in Prometheus and queue them for the batched 3scale report. A metered 2xx response
-- without usage is counted by an estimate (see llm_metrics_usage.estimate) unless switched off.

local policy = require('apicast.policy')
local _M = policy.new('llm-metrics', '1.0.0')

local Counters = require('llm_metrics_counters')
local Request = require('llm_metrics_request')
local Usage = require('llm_metrics_usage')
local SSE = require('llm_metrics_sse')
local Quota = require('llm_metrics_quota')
local Batcher = require('llm_metrics_batcher')

local type = type
local ipairs = ipairs
local tostring = tostring
local find = string.find
local lower = string.lower
local concat = table.concat
local open = io.open
local tonumber = tonumber

-- A JSON completion is small; anything bigger is not one and is not held in memory.
local MAX_JSON_BODY = 8 * 1024 * 1024

-- Request bodies nginx spooled to a file are read up to this size (config max_request_body_size).
local DEFAULT_MAX_REQUEST_BODY = 16 * 1024 * 1024

local DEFAULT_STATUSES = { 200 }

local function default_rules()
  local rules = {}
  for _, field in ipairs(Usage.FIELDS) do
    rules[#rules + 1] = { metric = field, usage = field, statuses = DEFAULT_STATUSES }
  end
  return rules
end

-- Config arrives from JSON: a missing or null value (cjson.null is not a table) means default.
local function rules_from(config_rules)
  if type(config_rules) ~= 'table' or #config_rules == 0 then return default_rules() end
  local rules = {}
  for _, rule in ipairs(config_rules) do
    rules[#rules + 1] = {
      metric = rule.metric,
      usage = rule.usage,
      statuses = type(rule.statuses) == 'table' and rule.statuses or DEFAULT_STATUSES,
      per = math.max(1, math.floor(tonumber(rule.per) or 1)),
    }
  end
  return rules
end

local function metrics_of(rules)
  local metrics, seen = {}, {}
  for _, rule in ipairs(rules) do
    if not seen[rule.metric] then
      seen[rule.metric] = true
      metrics[#metrics + 1] = rule.metric
    end
  end
  return metrics
end

local new = _M.new

function _M.new(config)
  local self = new(config)
  config = type(config) == 'table' and config or {}

  self.enable_sse_support = config.enable_sse_support ~= false
  self.force_include_usage = config.force_include_usage ~= false
  self.model_label = config.model_label ~= false
  self.rules = rules_from(config.rules)
  self.estimate_missing_usage = config.estimate_missing_usage ~= false
  self.max_request_body_size = tonumber(config.max_request_body_size) or DEFAULT_MAX_REQUEST_BODY

  local quota = type(config.quota) == 'table' and config.quota or {}
  self.quota_enabled = quota.enabled == true
  self.quota_metrics = (type(quota.metrics) == 'table' and #quota.metrics > 0)
    and quota.metrics or metrics_of(self.rules)
  self.default_max_tokens = tonumber(quota.default_max_tokens) or Quota.DEFAULT_MAX_TOKENS

  return self
end

-- Per-request state lives in the context APIcast shares across phases, up to post_action.
-- A string key (not the instance) survives however the chain is rebuilt for post_action.
local STATE_KEY = 'llm_metrics'

local function state_of(context)
  local state = context[STATE_KEY]
  if not state then
    state = {}
    context[STATE_KEY] = state
  end
  return state
end

local function first(value)
  if type(value) == 'table' then return value[1] end
  return value
end

local function contains(value, needle)
  return type(value) == 'string' and find(lower(value), needle, 1, true) ~= nil
end

local function read_file(path, max)
  local file, err = open(path, 'rb')
  if not file then return nil, err end
  local size = file:seek('end')
  if size and size > max then
    file:close()
    return nil, 'over max_request_body_size (' .. max .. ' bytes)'
  end
  file:seek('set')
  local data = file:read('*a')
  file:close()
  return data
end

-- The request body, whether nginx kept it in memory or in a temporary file (bounded by `max`).
-- Reading the file is blocking disk I/O in the worker (lua-nginx-module has no non-blocking file
-- API; get_body_file's documentation suggests client_body_buffer_size = client_max_body_size to keep
-- bodies in memory), so it is done only when `need_file` says the content matters (a rewrite or a
-- quota bound), never for the model label alone.
local function request_body(max, need_file)
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  if not need_file then return nil end
  local path = ngx.req.get_body_file()
  if not path then return nil end
  local data, err = read_file(path, max)
  if not data then
    ngx.log(ngx.WARN, 'llm-metrics: request body in ', path, ' not inspected: ', err)
  end
  return data
end

function _M:rewrite(context)
  local state = state_of(context)
  local length = tonumber(ngx.var.content_length)
  state.request_bytes = length or 0
  -- A request without a body (GET /v1/models) generates nothing: it is not metered at all, so an
  -- unmetered route costs only this check (issue 27: <= +5 us).
  if length == 0 or (not length and ngx.var.http_transfer_encoding == nil) then
    state.unmetered = true
    return
  end
  if not (self.force_include_usage or self.model_label or self.quota_enabled) then return end

  -- Not gated on Content-Type: a client sending JSON as a form (curl -d) still gets usage added.
  local body = request_body(self.max_request_body_size, self.force_include_usage or self.quota_enabled)
  if self.quota_enabled then
    -- Before any rewrite: the client's own body bounds what it can be billed (a body not read, too
    -- big for max_request_body_size, is bounded by its length and the default completion).
    state.quota_estimate = Quota.estimate(self.rules, body or '{}', body and #body or state.request_bytes,
                                          ngx.var.uri, self.default_max_tokens)
  end
  if not body then return end
  state.request_bytes = #body

  local model
  if self.force_include_usage then
    local new_body, reason
    new_body, reason, model = Request.with_include_usage(body)
    if new_body then
      -- set_body_data sets the upstream Content-Length itself (lua-nginx-module).
      ngx.req.set_body_data(new_body)
      ngx.log(ngx.DEBUG, 'llm-metrics: request rewritten: ', reason)
    end
  end

  -- post_action needs only the model name (for the label when the response names none), not the body.
  if self.model_label then state.request_model = model or Request.model_in(body) end
end

local function credential_of(credentials)
  if type(credentials) ~= 'table' then return nil end
  for _, kind in ipairs({ 'user_key', 'app_id', 'access_token' }) do
    local value = credentials[kind]
    if type(value) == 'string' and value ~= '' then return kind, value end
  end
  return nil
end

function _M:access(context)
  if not self.quota_enabled then return end

  local pending
  local kind, credential = credential_of(context.credentials)
  if kind and context.service then pending = Batcher.pending(context.service.id, kind, credential) end
  local state = state_of(context)
  local decision, retry_after, described, refused = Quota.check(context.service, context.credentials,
                                                                self.quota_metrics, pending, state.quota_estimate)
  if decision == 'reject' then
    state.rejected = true
    return Quota.reject(context.service, retry_after, described, refused)
  end
end

-- Whether bytes first..last of buffer (one SSE event's data) hold `"usage"` followed by an object:
-- looked up in place, so the text deltas of a stream never become strings of their own.
-- The next `"usage"` at or after a start position is remembered with that start, so a chunk of
-- events without any is scanned once, not once per event. The memo is a pure function of the bytes
-- and the start: it stays right for the next request of the worker, whose byte-identical chunk is
-- the very same Lua string (interned), because it is used only for a start at or after its own.
local memo_buffer, memo_from, memo_at
local function usage_object_in(buffer, first, last)
  local at
  if buffer == memo_buffer and memo_from <= first and (memo_at == false or memo_at >= first) then
    at = memo_at
  else
    at = find(buffer, '"usage"', first, true) or false
    memo_buffer, memo_from, memo_at = buffer, first, at
  end
  return at ~= false and at < last and find(buffer, '^%s*:%s*{', at + 7) ~= nil
end

function _M:header_filter(context)
  local state = state_of(context)
  if state.rejected or state.unmetered then return end

  local status = ngx.status
  state.status = status
  if not Usage.any_rule_for_status(self.rules, status) then return end
  -- Only a 2xx answer without usage is estimated; bytes are counted for it in any mode.
  state.estimate = self.estimate_missing_usage and status >= 200 and status < 300
    and (state.request_bytes or 0) > 0
  state.response_bytes = 0

  local encoding = first(ngx.header['Content-Encoding'])
  if encoding and lower(encoding) ~= 'identity' then
    ngx.log(ngx.INFO, 'llm-metrics: ', encoding, ' response body not inspected')
    if state.estimate then state.mode = 'bytes' end
    return
  end

  local content_type = first(ngx.header['Content-Type'])
  if contains(content_type, 'text/event-stream') then
    if not self.enable_sse_support then
      if state.estimate then state.mode = 'bytes' end
      return
    end
    state.mode = 'sse'
    state.sse = SSE.new(function(data)
      -- Only an event whose usage is an object is decoded; text deltas (`"usage":null`) are not.
      local at = find(data, '"usage"', 1, true)
      if not at or not find(data, '^%s*:%s*{', at + 7) then return end
      local object, err = Usage.decode_object(data)
      if not object then
        ngx.log(ngx.INFO, 'llm-metrics: SSE event skipped: ', err)
        return
      end
      local counts = Usage.from_object(object)
      if counts then
        state.counts = counts
        state.response_model = Usage.model_of(object)
      end
    end, nil, usage_object_in)
  elseif content_type == nil or contains(content_type, 'json') then
    state.mode = 'json'
    state.parts = {}
    state.size = 0
  elseif state.estimate then
    state.mode = 'bytes'
  end
end

local function finish_json(state)
  local body = concat(state.parts)
  state.parts = nil
  -- No usage key, nothing to decode (the estimate, if any, needs only the byte count).
  if not find(body, '"usage"', 1, true) then
    ngx.log(ngx.INFO, 'llm-metrics: response body skipped: no usage in it')
    return
  end
  local object, err = Usage.decode_object(body)
  if not object then
    ngx.log(ngx.INFO, 'llm-metrics: response body skipped: ', err)
    return
  end
  state.counts = Usage.from_object(object)
  state.response_model = Usage.model_of(object)
end

-- Reads ngx.arg without ever changing it: the client gets every byte as it arrives.
function _M:body_filter(context)
  local state = context[STATE_KEY]
  local mode = state and state.mode
  if not mode then return end

  local chunk, eof = ngx.arg[1], ngx.arg[2]
  if chunk then state.response_bytes = state.response_bytes + #chunk end

  if mode == 'bytes' then
    if eof then state.mode = nil end
    return
  end

  if mode == 'sse' then
    state.sse:feed(chunk)
    if eof then
      if state.sse.overflowed then
        ngx.log(ngx.WARN, 'llm-metrics: over-long SSE line dropped')
      end
      state.sse:finish()
      state.mode = nil
    end
    return
  end

  if chunk and chunk ~= '' then
    state.size = state.size + #chunk
    if state.size > MAX_JSON_BODY then
      ngx.log(ngx.WARN, 'llm-metrics: response body over ', MAX_JSON_BODY, ' bytes not inspected')
      state.parts = nil
      state.mode = 'bytes'
      return
    end
    state.parts[#state.parts + 1] = chunk
  end

  if eof then
    state.mode = nil
    finish_json(state)
  end
end

-- A plain report (POST /transactions.xml) is never limit-checked, so the real count always lands,
-- also when the request-time quota check was the one that admitted it. Reports are batched.
local function report(context, deltas)
  local service, credentials = context.service, context.credentials
  if not service or type(credentials) ~= 'table' then
    ngx.log(ngx.WARN, 'llm-metrics: no service or credentials in context, tokens not reported')
    return
  end

  local kind, credential = credential_of(credentials)
  if not kind then
    ngx.log(ngx.WARN, 'llm-metrics: no usable credential, tokens not reported')
    return
  end

  local backend, err = Batcher.client_for(service)
  if not backend then
    ngx.log(ngx.ERR, 'llm-metrics: no backend client: ', err)
    return
  end

  Batcher.add(service, kind, credential, deltas)
end

-- Remainders of `per` rules, per service and credential, in this worker: a remainder waits for
-- that application's next response in the same worker (below `per` tokens each, lost on reload).
local carries = {}

local function carry_of(context)
  local kind, credential = credential_of(context.credentials)
  if not kind or not context.service then return nil end
  local key = tostring(context.service.id) .. ':' .. kind .. ':' .. credential
  local carry = carries[key]
  if not carry then
    carry = {}
    carries[key] = carry
  end
  return carry
end

_M._carries = carries -- for the specs

-- The Prometheus label values: service id, service system name, application id, model.
local function label_values(self, context, state)
  local service = context.service or {}
  local credentials = type(context.credentials) == 'table' and context.credentials or {}
  local model = ''
  if self.model_label then
    model = state.response_model or state.request_model or ''
  end
  local system_name = service.system_name
    or (type(service.serializable) == 'table' and service.serializable.system_name) or ''
  -- With user_key credentials APIcast never learns the application id: the label stays empty
  -- rather than exporting the key itself.
  return tostring(service.id or ''), tostring(system_name), tostring(credentials.app_id or ''), model
end

-- Runs after the response, also when the client went away mid-stream (nginx runs post_action on
-- a finalized request whichever way it ended): whatever was seen by then is counted.
function _M:post_action(context)
  local state = context[STATE_KEY]
  if not state or state.rejected then return end
  if state.mode == 'json' and state.parts then finish_json(state) end -- body cut short: try anyway
  state.mode = nil

  local counts = state.counts
  local estimated = false
  if not counts then
    if not state.estimate then return end
    counts = Usage.estimate(state.request_bytes, state.sse and state.sse.events, state.response_bytes)
    estimated = true
    ngx.log(ngx.INFO, 'llm-metrics: no usage in the response, estimated ', Usage.describe(counts))
  end
  -- Prometheus: added up in this worker, handed to the counters on the report timer.
  if Counters.enabled then
    local service_id, system_name, app_id, model = label_values(self, context, state)
    if Counters.add(service_id, system_name, app_id, model, counts, estimated) then Batcher.schedule() end
  end

  local deltas = Usage.deltas(self.rules, counts, state.status, carry_of(context))
  if deltas then report(context, deltas) end
end

return _M
