-- Phase-by-phase behaviour of the policy beyond the shared cases.
local runner = require('policy_runner')
local backend_client = require('apicast.backend_client')
local prometheus = require('apicast.prometheus')
local llm_metrics = require('llm_metrics')

local JSON = { ['Content-Type'] = 'application/json' }
local SSE = { ['Content-Type'] = 'text/event-stream' }
local COMPLETION = '{"model":"m1","usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}'
local STREAMING = '{"model":"m1","stream":true}'

local function request(body, headers)
  return { method = 'POST', path = '/v1/chat/completions', headers = headers or JSON, body = body }
end

describe('llm-metrics policy', function()
  before_each(runner.reset)

  it('is an APIcast policy named llm-metrics 1.0.0, loaded through init.lua', function()
    local module = require('init')
    assert.equal(llm_metrics, module)
    assert.equal('llm-metrics', module._NAME)
    assert.equal('1.0.0', module._VERSION)
  end)

  it('applies defaults for a missing or null configuration', function()
    for _, config in ipairs({ {}, false, { rules = require('cjson').null, quota = require('cjson').null } }) do
      local policy = llm_metrics.new(config or nil)
      assert.is_true(policy.enable_sse_support)
      assert.is_true(policy.force_include_usage)
      assert.is_true(policy.model_label)
      assert.is_false(policy.quota_enabled)
      assert.equal(3, #policy.rules)
      assert.same({ 'prompt_tokens', 'completion_tokens', 'total_tokens' }, policy.quota_metrics)
    end
  end)

  describe('rewrite', function()
    it('does not read bodies of non-JSON requests', function()
      local result = runner.run(llm_metrics.new({}), request(STREAMING, { ['Content-Type'] = 'text/plain' }),
        { status = 200, headers = JSON, body = COMPLETION })
      assert.is_false(result.ngx.req.body_read)
      assert.equal(STREAMING, result.upstream_request_body)
    end)

    it('does not read the body when neither rewrite nor model label needs it', function()
      local result = runner.run(llm_metrics.new({ force_include_usage = false, model_label = false }),
        request(STREAMING), { status = 200, headers = JSON, body = COMPLETION })
      assert.is_false(result.ngx.req.body_read)
    end)

    it('skips a body nginx buffered to a file, and says so', function()
      local req = request(STREAMING)
      req.body_in_file = true
      local result = runner.run(llm_metrics.new({}), req, { status = 200, headers = JSON, body = COMPLETION })
      assert.equal(STREAMING, result.upstream_request_body)
      assert.is_true(result.ngx.logged('buffered to a file'))
      assert.same({ prompt_tokens = 5, completion_tokens = 7, total_tokens = 12 }, backend_client.reported_usage())
    end)

    it('updates Content-Length when the body changes', function()
      local result = runner.run(llm_metrics.new({}), request(STREAMING), { status = 200, headers = SSE, chunks = {} })
      assert.equal(tostring(#result.upstream_request_body), result.upstream_request_headers['Content-Length'])
      assert.is_true(#result.upstream_request_body > #STREAMING)
    end)
  end)

  describe('header_filter and body_filter', function()
    it('do nothing for statuses no rule reports', function()
      local policy = llm_metrics.new({})
      local result = runner.run(policy, request('{}'), { status = 404, headers = JSON, body = COMPLETION })
      assert.is_nil(result.context.llm_metrics.mode)
      assert.same({}, backend_client.calls)
    end)

    it('handle the end of body arriving as a separate empty chunk', function()
      runner.run(llm_metrics.new({}), request('{}'),
        { status = 200, headers = SSE, chunks = { 'data: ' .. COMPLETION .. '\n\n' } }, { separate_eof = true })
      assert.same({ prompt_tokens = 5, completion_tokens = 7, total_tokens = 12 }, backend_client.reported_usage())
    end)

    it('give up on JSON bodies over 8 MiB without error', function()
      local big = string.rep(' ', 1024 * 1024)
      local chunks = {}
      for i = 1, 9 do chunks[i] = big end
      chunks[10] = COMPLETION
      local policy = llm_metrics.new({})
      local result = runner.run(policy, request('{}'), { status = 200, headers = JSON, chunks = chunks })
      assert.same({}, backend_client.calls)
      assert.is_true(result.ngx.logged('not inspected', result.ngx.WARN))
      assert.is_nil(result.context.llm_metrics.parts)
    end)

    it('read a JSON body whose Content-Type has parameters and odd casing', function()
      runner.run(llm_metrics.new({}), request('{}'),
        { status = 200, headers = { ['content-type'] = 'Application/JSON; charset=UTF-8' }, body = COMPLETION })
      assert.same({ prompt_tokens = 5, completion_tokens = 7, total_tokens = 12 }, backend_client.reported_usage())
    end)

    it('accept Content-Encoding identity', function()
      runner.run(llm_metrics.new({}), request('{}'),
        { status = 200, headers = { ['Content-Type'] = 'application/json', ['Content-Encoding'] = 'identity' },
          body = COMPLETION })
      assert.same({ prompt_tokens = 5, completion_tokens = 7, total_tokens = 12 }, backend_client.reported_usage())
    end)

    it('log why a body was skipped, never at error level', function()
      local result = runner.run(llm_metrics.new({}), request('{}'),
        { status = 200, headers = JSON, body = '<html>oops</html>' })
      assert.is_true(result.ngx.logged('response body skipped: JSON is not an object', result.ngx.INFO))
      assert.is_false(result.ngx.logged('', result.ngx.ERR))
    end)
  end)

  describe('post_action', function()
    it('reports once with the credential type of the request', function()
      runner.run(llm_metrics.new({}), request('{}'), { status = 200, headers = JSON, body = COMPLETION },
        { context = { service = runner.SERVICE, credentials = { app_id = 'app-1', app_key = 'k' } } })
      local reports = backend_client.reports()
      assert.equal(1, #reports)
      assert.equal('app_id', reports[1].batch.credentials_type)
      assert.same({ ['app-1'] = { prompt_tokens = 5, completion_tokens = 7, total_tokens = 12 } },
                  reports[1].batch.reports)
      local sample = prometheus.samples('llm_total_tokens_total')[1]
      assert.same({ service_id = '42', service_system_name = 'granite', application_id = 'app-1', model = 'm1' },
                  sample.labels)
    end)

    it('takes the service system name from serializable when that is where APIcast keeps it', function()
      runner.run(llm_metrics.new({}), request('{}'), { status = 200, headers = JSON, body = COMPLETION },
        { context = { service = { id = 7, serializable = { system_name = 'other' } },
                      credentials = { user_key = 'k' } } })
      assert.equal('other', prometheus.samples('llm_prompt_tokens_total')[1].labels.service_system_name)
    end)

    it('without credentials counts in Prometheus but reports nothing, with a warning', function()
      local result = runner.run(llm_metrics.new({}), request('{}'),
        { status = 200, headers = JSON, body = COMPLETION }, { context = { service = runner.SERVICE } })
      assert.same({}, backend_client.calls)
      assert.is_true(result.ngx.logged('tokens not reported', result.ngx.WARN))
      assert.equal(12, prometheus.samples('llm_total_tokens_total')[1].value)
    end)

    it('logs a failed report', function()
      backend_client.backend = {
        report = function() return { status = 403, headers = {} } end,
      }
      local result = runner.run(llm_metrics.new({}), request('{}'), { status = 200, headers = JSON, body = COMPLETION })
      assert.is_true(result.ngx.logged('failed with status 403', result.ngx.WARN))
    end)

    it('accumulates Prometheus counters per model across requests', function()
      local policy = llm_metrics.new({})
      for _ = 1, 3 do
        runner.run(policy, request('{}'), { status = 200, headers = JSON, body = COMPLETION })
      end
      runner.run(policy, request('{}'), { status = 200, headers = JSON,
        body = '{"model":"m2","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}' })
      local by_model = {}
      for _, sample in ipairs(prometheus.samples('llm_total_tokens_total')) do
        by_model[sample.labels.model] = sample.value
      end
      assert.same({ m1 = 36, m2 = 2 }, by_model)
      assert.equal(4, #backend_client.reports())
    end)
  end)
end)
