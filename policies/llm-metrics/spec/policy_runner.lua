--- Drives one request through the policy phases the way APIcast calls them:
-- rewrite -> access -> (upstream) header_filter -> body_filter per chunk -> post_action.
-- Each phase runs under pcall, as APIcast's policy_chain.lua runs every policy phase: an error in the
-- policy is swallowed (handed to `context.policy_error_callback`, set only by APIcast's on_failed policy;
-- never logged), so a spec must see a policy error by its effect (nothing reported), as an operator would.
local ngx_stub = require('ngx_stub')
local backend_client = require('apicast.backend_client')
local prometheus = require('apicast.prometheus')

local M = {}

M.SERVICE = { id = 42, system_name = 'granite', limits_exceeded_status = 429,
              limits_exceeded_headers = 'text/plain; charset=us-ascii',
              error_limits_exceeded = 'Usage limit exceeded' }
M.CREDENTIALS = { user_key = 'secret-key' }

--- Response chunks of a case (`body` is one chunk; base64 decoded when asked), up to the
-- `client_abort_after` chunks a client that hangs up receives.
function M.chunks_of(response)
  local chunks = response.chunks or { response.body or '' }
  if response.body_encoding == 'base64' then
    local decoded = {}
    for i, c in ipairs(chunks) do decoded[i] = ngx_stub.decode_base64(c) end
    chunks = decoded
  end
  local keep = response.client_abort_after
  if keep then
    local kept = {}
    for i = 1, keep do kept[i] = chunks[i] end
    chunks = kept
  end
  return chunks
end

--- Runs `request` and `response` through `policy`. Returns a result table with the upstream
-- request body, the chunks the client received, and the stub ngx (logs, output, exit).
function M.run(policy, request, response, opts)
  opts = opts or {}
  local ngx = ngx_stub.new(request)
  _G.ngx = ngx

  local context = opts.context or {
    service = M.SERVICE,
    credentials = M.CREDENTIALS,
  }

  local result = { ngx = ngx, context = context, client_chunks = {}, policy_errors = {} }
  local function phase(name)
    local ok, err = pcall(policy[name], policy, context)
    if not ok then
      result.policy_errors[#result.policy_errors + 1] = name .. ': ' .. tostring(err)
      if context.policy_error_callback then context.policy_error_callback(policy._NAME, err) end
    end
  end

  phase('rewrite')
  phase('access')
  result.upstream_request_body = ngx.request_body
  result.upstream_request_headers = ngx.request_headers

  if ngx.exited then
    -- The policy answered itself; APIcast still runs the filters on that answer.
    response = { status = ngx.status, headers = {}, chunks = { table.concat(ngx.output) } }
    ngx.status = response.status
  else
    ngx.set_response(response.status, response.headers)
  end

  phase('header_filter')

  -- A client that hangs up: nginx stops the filters without an end of body, then runs post_action.
  local aborted = response.client_abort_after ~= nil
  local chunks = M.chunks_of(response)
  for i, chunk in ipairs(chunks) do
    ngx.arg = { chunk, i == #chunks and not aborted }
    phase('body_filter')
    result.client_chunks[i] = ngx.arg[1]
  end
  if opts.separate_eof then
    ngx.arg = { '', true }
    phase('body_filter')
  end

  phase('post_action')
  if ngx.body_file then os.remove(ngx.body_file) end
  -- The batched report goes out when its timer fires; opts.keep_pending leaves it queued.
  if not opts.keep_pending then ngx.run_timers() end
  return result
end

function M.reset()
  backend_client.reset()
  prometheus.reset()
  require('llm_metrics_batcher').reset()
  require('llm_metrics_counters').reset()
end

return M
