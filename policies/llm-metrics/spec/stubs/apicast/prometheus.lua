-- Stand-in for APIcast's `apicast.prometheus`: `prometheus('counter', name, help, labels)`
-- returns a counter (cached by name, like the real module); increments are kept per label set.
-- With `M.listener = false` it returns nil, as APIcast's module does when its nginx has no
-- `prometheus_metrics` shared dict (no metrics listener configured): a policy loaded then gets no
-- counters at all (load it with `M.without_listener`).
local M = { metrics = {}, listener = true }

local function new_counter(name, label_names)
  local metric = { name = name, label_names = label_names, samples = {} }

  function metric:inc(value, label_values)
    assert(type(value) == 'number' and value > 0, 'counter increment must be positive')
    assert(#label_values == #label_names, 'label values do not match label names')
    local key = table.concat(label_values, '\0')
    local sample = self.samples[key]
    if not sample then
      local labels = {}
      for i, label in ipairs(label_names) do labels[label] = label_values[i] end
      sample = { labels = labels, value = 0 }
      self.samples[key] = sample
    end
    sample.value = sample.value + value
  end

  return metric
end

setmetatable(M, {
  __call = function(_, kind, name, _help, label_names)
    if not M.listener then return nil end
    assert(kind == 'counter', 'only counters are stubbed')
    if not M.metrics[name] then M.metrics[name] = new_counter(name, label_names or {}) end
    return M.metrics[name]
  end,
})

--- Loads `modules` afresh (in order; the policy after the helpers that create its counters) as APIcast
-- would without a metrics listener; the loaded copies stay as they were. Returns the last one.
function M.without_listener(...)
  local names, saved = { ... }, {}
  for _, name in ipairs(names) do saved[name] = package.loaded[name]; package.loaded[name] = nil end
  M.listener = false
  local ok, fresh = true, nil
  for _, name in ipairs(names) do
    ok, fresh = pcall(require, name)
    if not ok then break end
  end
  M.listener = true
  for _, name in ipairs(names) do package.loaded[name] = saved[name] end
  assert(ok, fresh)
  return fresh
end

function M.reset()
  for _, metric in pairs(M.metrics) do metric.samples = {} end
end

--- Samples of one metric: list of {labels = {...}, value = n}.
function M.samples(name)
  local list = {}
  local metric = M.metrics[name]
  for _, sample in pairs(metric and metric.samples or {}) do list[#list + 1] = sample end
  return list
end

return M
