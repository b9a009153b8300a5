-- Counters kept in a lua_shared_dict and exposed in the Prometheus text format by the harness's
-- metrics location, the way APIcast's metrics policies expose theirs (shared dict per worker set).
-- Same call as APIcast's `apicast.prometheus`: prometheus('counter', name, help, label_names), and
-- like it (gateway/src/apicast/prometheus.lua) a no-op returning nil when nginx has no
-- `prometheus_metrics` shared dict, i.e. no metrics listener: Nginx(metrics=False) starts it so.
local concat = table.concat
local DICT = 'prometheus_metrics'

if not ngx.shared[DICT] then
  local noop = function() end
  return setmetatable({ exposition = function() return '' end }, { __call = noop })
end

local format = string.format

local _M = { registered = {} }

local function key_of(name, label_names, label_values)
  local parts = {}
  for i, label in ipairs(label_names) do
    parts[i] = format('%s="%s"', label, (tostring(label_values[i]):gsub('["\\\n]', '_')))
  end
  return name .. '{' .. concat(parts, ',') .. '}'
end

setmetatable(_M, {
  __call = function(_, kind, name, help, label_names)
    if kind ~= 'counter' then return nil end
    label_names = label_names or {}
    _M.registered[name] = help
    local keys = {} -- label values joined -> sample key, as nginx-lua-prometheus caches its keys
    return {
      inc = function(_, value, label_values)
        label_values = label_values or {}
        local joined = concat(label_values, '\0')
        local key = keys[joined]
        if not key then
          key = key_of(name, label_names, label_values)
          keys[joined] = key
        end
        ngx.shared[DICT]:incr(key, value, 0)
      end,
    }
  end,
})

function _M.exposition()
  local dict = ngx.shared[DICT]
  local lines = {}
  for name, help in pairs(_M.registered) do
    lines[#lines + 1] = '# HELP ' .. name .. ' ' .. help
    lines[#lines + 1] = '# TYPE ' .. name .. ' counter'
  end
  for _, key in ipairs(dict:get_keys(0)) do
    if key:find('{', 1, true) then lines[#lines + 1] = key .. ' ' .. tostring(dict:get(key)) end
  end
  return concat(lines, '\n') .. '\n'
end

return _M
