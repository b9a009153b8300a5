-- The part of APIcast's `apicast.policy` (gateway/src/apicast/policy.lua) the llm-metrics policy
-- uses, written for this harness: `new(name, version)` returns a policy module whose `new(config)`
-- makes an instance; phases it does not define are no-ops, as in APIcast.
local setmetatable = setmetatable

local PHASES = { 'init', 'init_worker', 'rewrite', 'access', 'content', 'balancer',
                 'header_filter', 'body_filter', 'post_action', 'log', 'metrics' }

local _M = {}

local function noop() end

function _M.new(name, version)
  local policy = { _NAME = name, _VERSION = version or '0.0' }
  local mt = { __index = policy }
  for _, phase in ipairs(PHASES) do policy[phase] = noop end
  function policy.new(config)
    return setmetatable({ config = config }, mt)
  end
  return policy, mt
end

return _M
