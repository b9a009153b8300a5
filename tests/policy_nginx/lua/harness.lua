-- Our small stand-in for APIcast's executor and policy chain (gateway/src/apicast/executor.lua,
-- policy_chain.lua): one shared context per request, handed to every phase of the chain in order,
-- and kept for post_action through a request variable (`$ctx_ref`), since nginx starts post_action
-- in a named location with a fresh ngx.ctx (APIcast keeps its context the same way).
-- The chain is [llm-metrics] or empty (the benchmark's plain chain); the context carries what the
-- apicast policy would have put there: the service and the request's credentials.
local cjson = require('cjson')

local _M = {}

local SERVICE = {
  id = 42, system_name = 'granite',
  limits_exceeded_status = 429, limits_exceeded_headers = 'text/plain; charset=us-ascii',
  error_limits_exceeded = 'Usage limit exceeded',
}

local contexts, next_ref = {}, 0
local policies = {} -- config text -> policy instance (APIcast builds instances once per config)

function _M.init(settings)
  SERVICE.backend = { host = '127.0.0.1', port = settings.backend_port }
  _M.default_config = settings.config or '{}'
  _M.chain = settings.chain
  local batcher = require('llm_metrics_batcher')
  if settings.report_interval then batcher.interval = settings.report_interval end
  require('llm_metrics') -- load at init like APIcast's policy loader: errors surface at start
end

local function policy_for(config_text)
  local policy = policies[config_text]
  if not policy then
    policy = require('llm_metrics').new(cjson.decode(config_text))
    policies[config_text] = policy
  end
  return policy
end

-- As APIcast's policy_chain.lua: every phase under pcall, an error swallowed (handed to the
-- context's policy_error_callback, which only APIcast's on_failed policy sets; never logged).
local function each(context, phase)
  local policy = context.policy
  if not policy then return end
  local ok, err = pcall(policy[phase], policy, context)
  if not ok and context.policy_error_callback then context.policy_error_callback(policy._NAME, err) end
end

function _M.rewrite()
  local context = { service = SERVICE }
  local key = ngx.var.arg_user_key or ngx.var.http_x_user_key
  context.credentials = key and { user_key = key } or {}
  if _M.chain ~= 'plain' then
    local config = ngx.var.http_x_harness_config
    config = config and ngx.decode_base64(config) or _M.default_config
    context.policy = policy_for(config)
  end
  ngx.ctx.context = context
  next_ref = next_ref + 1
  contexts[next_ref] = context
  ngx.var.ctx_ref = next_ref
  each(context, 'rewrite')
end

function _M.access() each(ngx.ctx.context, 'access') end
function _M.header_filter() each(ngx.ctx.context, 'header_filter') end
function _M.body_filter() each(ngx.ctx.context, 'body_filter') end

function _M.post_action()
  local ref = tonumber(ngx.var.ctx_ref)
  local context = ref and contexts[ref]
  contexts[ref or 0] = nil
  if context then each(context, 'post_action') end
  ngx.shared.harness_metrics:incr('harness_post_actions', 1, 0)
end

-- Test endpoints: how many post_actions ran, flush the batched reports now, metrics.
function _M.admin()
  local uri = ngx.var.uri
  if uri == '/__state' then
    ngx.say(cjson.encode({ post_actions = ngx.shared.harness_metrics:get('harness_post_actions') or 0 }))
  elseif uri == '/__flush' then
    require('llm_metrics_batcher').flush(false)
    ngx.say('flushed')
  elseif uri == '/__metrics' then
    ngx.print(require('apicast.prometheus').exposition())
  else
    ngx.exit(404)
  end
end

return _M
