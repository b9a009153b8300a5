-- Reads the manifest the way APIcast does (gateway/src/apicast/policy_manifests_loader.lua and
-- policy_order_checker.lua on 3scale/APIcast master), so a manifest APIcast would reject fails here.
-- The loader decodes every `apicast-policy.json` with cjson and keeps it when its `version` matches
-- the directory; the order checker then turns each name in `order.before`/`order.after` (and the
-- policy's own name) into the policy module's `_NAME` through `policy_loader:pcall`, which only
-- finds builtin policies. For a custom policy that is nil, and indexing its restrictions table with
-- nil raised "table index is nil" in init_by_lua (APIcast master, 2.16.3).
local cjson = require('cjson')

local BUILTINS = { apicast = 'APIcast' } -- the only builtin our manifests may name

local function read_manifest(version_dir)
  local file = assert(io.open(version_dir .. '/apicast-policy.json', 'rb'))
  local text = file:read('*a')
  file:close()
  return cjson.decode(text)
end

-- Our restatement of OrderRestrictions.new_from_policy_manifests: errors exactly where it would.
local function order_restrictions(manifests)
  local restrictions = {}
  local function prettified(name) return BUILTINS[name] end
  local function insert(before, after)
    restrictions[before.name] = restrictions[before.name] or {}
    restrictions[before.name][before.version] = restrictions[before.name][before.version] or {}
    table.insert(restrictions[before.name][before.version], after)
  end
  for policy_name, list in pairs(manifests) do
    for _, manifest in ipairs(list) do
      if manifest.order then
        local me = { name = prettified(policy_name), version = manifest.version }
        for _, other in ipairs(manifest.order.before or {}) do
          insert(me, { name = prettified(other.name), version = other.version })
        end
        for _, other in ipairs(manifest.order.after or {}) do
          insert({ name = prettified(other.name), version = other.version }, me)
        end
      end
    end
  end
  return restrictions
end

describe('llm-metrics manifest as APIcast loads it', function()
  local dir = SPEC_DIR .. '/../1.0.0'
  local manifest = read_manifest(dir)

  it('is kept by the manifests loader: name and version match the policy directories', function()
    assert.equal('llm-metrics', manifest.name)
    assert.equal('1.0.0', manifest.version)
    assert.equal('table', type(manifest.configuration))
  end)

  it('passes the order checker (no `order`: a custom name cannot be resolved)', function()
    assert.is_nil(manifest.order)
    assert.has_no.errors(function() order_restrictions({ ['llm-metrics'] = { manifest } }) end)
  end)

  it('the same checker fails on a custom manifest with order.before, as APIcast did', function()
    local with_order = { version = '1.0.0', order = { before = { { name = 'apicast', version = 'builtin' } } } }
    assert.has_error(function() order_restrictions({ ['llm-metrics'] = { with_order } }) end)
  end)

  it('states in its description where it belongs in the chain', function()
    local description = table.concat(manifest.description)
    assert.is_truthy(description:find('before the 3scale APIcast policy', 1, true))
  end)
end)
