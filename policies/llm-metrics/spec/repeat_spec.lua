-- What one APIcast worker sees over many requests, which a single run cannot show (issue 27):
--  * byte-identical responses (one Lua string object each time: LuaJIT interns every string) must
--    each be billed with their own usage, whatever any lookup remembered from the previous one;
--  * without a metrics listener APIcast's `apicast.prometheus(...)` returns nil, and every phase
--    runs under pcall (policy_chain.lua), so a policy error shows only as usage not reported.
local cjson = require('cjson')
local runner = require('policy_runner')
local backend_client = require('apicast.backend_client')
local prometheus = require('apicast.prometheus')
local llm_metrics = require('llm_metrics')

local function read_case(name)
  local file = assert(io.open(SPEC_DIR .. '/../cases.json', 'rb'))
  local cases = cjson.decode(file:read('*a')).cases
  file:close()
  for _, case in ipairs(cases) do
    if case.name == name then return case end
  end
  error('no shared case named ' .. name)
end

local SSE_ONE_CHUNK = 'sse whole stream in one chunk'
local SSE_CHUNKED = 'sse with usage in the final chunk and [DONE]'
local JSON_COMPLETION = 'json chat completion'
local USAGE = { prompt_tokens = 5, completion_tokens = 7, total_tokens = 12 }

-- Runs `case` through `policy` and returns what one request reported, and the policy errors.
local function billed(policy, case)
  backend_client.reset()
  local result = runner.run(policy, case.request, case.response)
  return backend_client.reported_usage(), result.policy_errors
end

describe('llm-metrics on one worker, request after request', function()
  before_each(runner.reset)

  for _, name in ipairs({ SSE_ONE_CHUNK, SSE_CHUNKED, JSON_COMPLETION }) do
    it('bills each of three byte-identical responses with its real usage: ' .. name, function()
      local case = read_case(name)
      local policy = llm_metrics.new(case.config)
      for i = 1, 3 do
        local usage, errors = billed(policy, case)
        assert.same({}, errors)
        assert.same(USAGE, usage, 'request ' .. i)
      end
      assert.equal(3 * 12, prometheus.samples('llm_total_tokens_total')[1].value)
    end)
  end

  it('bills the usage of a stream that follows a byte-identical one cut short by a client', function()
    local case = read_case(SSE_ONE_CHUNK)
    local policy = llm_metrics.new(case.config)
    local stream = case.response.chunks[1]
    local cut = stream:find('data: [DONE]', 1, true) - 1
    -- A different stream whose usage event sits at the same place: nothing may be carried over.
    local other = { status = 200, headers = case.response.headers,
                    chunks = { stream:sub(1, cut):gsub('"total_tokens":12', '"total_tokens":13') .. 'data: [DONE]\n\n' } }
    assert.same(USAGE, (billed(policy, case)))
    assert.same({ prompt_tokens = 5, completion_tokens = 7, total_tokens = 13 },
                (billed(policy, { request = case.request, response = other })))
    assert.same(USAGE, (billed(policy, case)))
  end)
end)

describe('llm-metrics without a metrics listener (apicast.prometheus returns nil)', function()
  local bare = prometheus.without_listener('llm_metrics_counters', 'llm_metrics')
  before_each(runner.reset)

  it('still reports every response to 3scale, with usage or estimated', function()
    local policy = bare.new({})
    for _, name in ipairs({ JSON_COMPLETION, SSE_ONE_CHUNK }) do
      local usage = billed(policy, read_case(name))
      assert.same(USAGE, usage)
    end
    for _, name in ipairs({ 'sse without usage is estimated from its events',
                            'usage missing: estimated from request and response bytes' }) do
      local case = read_case(name)
      local usage = billed(policy, case)
      assert.same(case.expect.usage, usage, name)
      assert.is_true(next(usage) ~= nil)
    end
    assert.same({}, prometheus.samples('llm_estimated_reports_total'))
  end)

  it('reports the estimate with a metrics listener too, and counts it', function()
    local case = read_case('usage missing: estimated from request and response bytes')
    local usage = billed(llm_metrics.new({}), case)
    assert.same(case.expect.usage, usage)
    assert.equal(1, prometheus.samples('llm_estimated_reports_total')[1].value)
  end)
end)
