-- Runs every shared case from ../cases.json (also run by the sandbox gateway's Python tests)
-- through all phases and checks the upstream request body and the usage reported to 3scale.
local cjson = require('cjson')
local runner = require('policy_runner')
local backend_client = require('apicast.backend_client')
local prometheus = require('apicast.prometheus')

local function read_cases()
  local file = assert(io.open(SPEC_DIR .. '/../cases.json', 'rb'))
  local text = file:read('*a')
  file:close()
  return cjson.decode(text).cases
end

local function plain(t)
  -- cjson tables compare with assert.same after dropping cjson.null values.
  if type(t) ~= 'table' then return t end
  local out = {}
  for k, v in pairs(t) do
    if v ~= cjson.null then out[k] = plain(v) end
  end
  return out
end

-- A case's `quota`: the application's limits and usage so far (one period); the stand-in backend
-- answers authorize as apisonator answers APIcast's client (no_body, limit headers): refused when
-- usage + the delta asked for passes a limit.
local function quota_backend(quota)
  return {
    authorize = function(call)
      for key, delta in pairs(call.usage) do
        local metric = key:match('^usage%[(.*)%]$')
        local limit, used = quota.limits[metric], quota.used[metric] or 0
        if limit and used + delta > limit then
          return { status = 409, headers = { ['3scale-rejection-reason'] = 'limits_exceeded',
            ['3scale-limit-reset'] = '3600', ['3scale-limit-max-value'] = tostring(limit),
            ['3scale-limit-remaining'] = tostring(math.max(0, limit - used)) } }
        end
      end
      return { status = 200, headers = {} }
    end,
    report = function() return { status = 202, headers = {} } end,
  }
end

local COUNTER_OF = {
  prompt_tokens = 'llm_prompt_tokens_total',
  completion_tokens = 'llm_completion_tokens_total',
  total_tokens = 'llm_total_tokens_total',
}

describe('shared llm-metrics cases', function()
  local cases = read_cases()
  local llm_metrics = require('llm_metrics')

  it('has the cases the sandbox also runs', function()
    assert.is_true(#cases >= 20)
  end)

  for _, case in ipairs(cases) do
    it(case.name, function()
      runner.reset()
      for key in pairs(llm_metrics._carries) do llm_metrics._carries[key] = nil end -- each case on its own
      local policy = llm_metrics.new(case.config)
      if case.quota then backend_client.backend = quota_backend(case.quota) end
      local result = runner.run(policy, case.request, case.response)
      local expect = case.expect
      assert.same({}, result.policy_errors)

      -- Quota: what the check asked for (this request's bound), and a refusal naming the limit.
      if expect.quota_requested then
        local asked = {}
        for _, call in ipairs(backend_client.calls) do
          if call.kind == 'authorize' then
            for key, value in pairs(call.usage) do asked[key:match('^usage%[(.*)%]$')] = value end
          end
        end
        assert.same(plain(expect.quota_requested), asked)
      end
      if expect.status == 429 then
        assert.equal(429, result.ngx.status)
        local metric, requested = next(expect.quota_requested)
        assert.equal('limit=' .. case.quota.limits[metric] .. '; remaining='
          .. (case.quota.limits[metric] - (case.quota.used[metric] or 0)) .. '; requested=' .. requested,
          result.ngx.header['X-LLM-Quota'])
        assert.same({}, backend_client.reports())
        assert.same(plain(expect.usage), backend_client.reported_usage())
        return
      end

      -- Upstream request body.
      if expect.upstream_request_json ~= nil then
        assert.same(plain(expect.upstream_request_json), plain(cjson.decode(result.upstream_request_body)))
        assert.equal(tostring(#result.upstream_request_body),
                     result.upstream_request_headers['Content-Length'])
      else
        local wanted = expect.upstream_request_body or case.request.body
        assert.equal(wanted, result.upstream_request_body)
        if wanted ~= case.request.body then
          assert.equal(tostring(#wanted), result.upstream_request_headers['Content-Length'])
        end
      end

      -- Every byte reaches the client unchanged.
      assert.same(runner.chunks_of(case.response), result.client_chunks)
      assert.is_nil(result.ngx.exited)

      -- Usage reported to 3scale, in at most one report call.
      local reports = backend_client.reports()
      assert.is_true(#reports <= 1)
      assert.same(plain(expect.usage), backend_client.reported_usage())
      if #reports == 1 then
        local batch = reports[1].batch
        assert.equal('user_key', batch.credentials_type)
        assert.is_not_nil(batch.reports['secret-key'])
        assert.equal(42, batch.service_id)
      end

      -- Prometheus: default rules name metrics after usage fields, so counters equal the usage.
      local default_rules = case.config.rules == nil
      for field, counter in pairs(COUNTER_OF) do
        local samples = prometheus.samples(counter)
        if default_rules and case.response.status == 200 then
          local expected = expect.usage[field]
          if expected then
            assert.equal(1, #samples)
            assert.equal(expected, samples[1].value)
          else
            assert.equal(0, #samples)
          end
        end
        for _, sample in ipairs(samples) do
          assert.equal(expect.model, sample.labels.model)
          assert.equal('42', sample.labels.service_id)
          assert.equal('granite', sample.labels.service_system_name)
          assert.equal('', sample.labels.application_id)
        end
      end

      -- Never an error-level log for any input.
      assert.is_false(result.ngx.logged('', result.ngx.ERR))
    end)
  end
end)
