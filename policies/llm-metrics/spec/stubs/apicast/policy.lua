-- Stand-in for APIcast's `apicast.policy`: `new(name, version)` returns the policy module whose
-- own `new(config)` builds an instance; phases are plain methods on the module.
local M = {}

function M.new(name, version)
  local policy = { _NAME = name, _VERSION = version }
  local mt = { __index = policy }

  function policy.new(config)
    return setmetatable({ config = config }, mt)
  end

  return policy, mt
end

return M
