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
    it('rewrites a streaming JSON body whatever its Content-Type says (issue 13: curl -d)', function()
      for _, content_type in ipairs({ 'text/plain', 'application/x-www-form-urlencoded' }) do
        local result = runner.run(llm_metrics.new({}), request(STREAMING, { ['Content-Type'] = content_type }),
          { status = 200, headers = JSON, body = COMPLETION })
        assert.equal('{"model":"m1","stream":true,"stream_options":{"include_usage":true}}',
                     result.upstream_request_body)
      end
    end)

    it('does not read a request without a body (GET /v1/models)', function()
      local result = runner.run(llm_metrics.new({}), { method = 'GET', path = '/v1/models', headers = {} },
        { status = 200, headers = JSON, body = '{"object":"list","data":[]}' })
      assert.is_false(result.ngx.req.body_read)
      assert.same({}, backend_client.calls)
    end)

    it('keeps the model name for post_action, never the request body', function()
      for _, body in ipairs({ STREAMING, '{"model":"m1","messages":[]}' }) do
        local result = runner.run(llm_metrics.new({}), request(body),
          { status = 200, headers = JSON, body = '{"usage":{"total_tokens":3}}' })
        local state = result.context.llm_metrics
        assert.equal('m1', state.request_model)
        for _, value in pairs(state) do assert.is_not.equal(body, value) end
        assert.equal('m1', prometheus.samples('llm_total_tokens_total')[1].labels.model)
        runner.reset()
      end
    end)

    it('does not read the body when neither rewrite nor model label needs it', function()
      local result = runner.run(llm_metrics.new({ force_include_usage = false, model_label = false }),
        request(STREAMING), { status = 200, headers = JSON, body = COMPLETION })
      assert.is_false(result.ngx.req.body_read)
    end)

    it('reads a body nginx buffered to a file and rewrites it (issue 19: long prompts)', function()
      local prompt = string.rep('x', 64 * 1024)
      local body = '{"model":"m1","stream":true,"messages":[{"role":"user","content":"' .. prompt .. '"}]}'
      local req = request(body)
      req.body_in_file = true
      local result = runner.run(llm_metrics.new({}), req,
        { status = 200, headers = SSE, chunks = { 'data: {"choices":[]}\n\n' } })
      assert.equal(body:sub(1, -2) .. ',"stream_options":{"include_usage":true}}', result.upstream_request_body)
      -- No usage came back: the estimate covers the whole prompt.
      local prompt_estimate = math.ceil(#body / 4)
      assert.same({ prompt_tokens = prompt_estimate, completion_tokens = 1, total_tokens = prompt_estimate + 1 },
                  backend_client.reported_usage())
    end)

    it('does not read a file-buffered body when only the model label would use it (blocking disk I/O)', function()
      local req = request(STREAMING)
      req.body_in_file = true
      local result = runner.run(llm_metrics.new({ force_include_usage = false }), req,
        { status = 200, headers = JSON, body = COMPLETION })
      assert.is_nil(result.ngx.body_file) -- get_body_file was never asked for
      assert.equal(STREAMING, result.upstream_request_body)
      assert.equal('m1', prometheus.samples('llm_total_tokens_total')[1].labels.model) -- from the response
    end)

    it('forwards a file-buffered body over max_request_body_size uninspected, and says so', function()
      local req = request(STREAMING)
      req.body_in_file = true
      local result = runner.run(llm_metrics.new({ max_request_body_size = 10 }), req,
        { status = 200, headers = JSON, body = COMPLETION })
      assert.equal(STREAMING, result.upstream_request_body)
      assert.is_true(result.ngx.logged('over max_request_body_size (10 bytes)', result.ngx.WARN))
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

    it('give up reading JSON bodies over 8 MiB without error, and estimate them from their size', function()
      local big = string.rep(' ', 1024 * 1024)
      local chunks = {}
      for i = 1, 9 do chunks[i] = big end
      chunks[10] = COMPLETION
      local policy = llm_metrics.new({})
      local result = runner.run(policy, request('{}'), { status = 200, headers = JSON, chunks = chunks })
      local completion = math.ceil((9 * 1024 * 1024 + #COMPLETION) / 4)
      assert.same({ prompt_tokens = 1, completion_tokens = completion, total_tokens = completion + 1 },
                  backend_client.reported_usage())
      assert.is_true(result.ngx.logged('not inspected', result.ngx.WARN))
      assert.is_nil(result.context.llm_metrics.parts)
      assert.equal(1, prometheus.samples('llm_estimated_reports_total')[1].value)
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
      assert.is_true(result.ngx.logged('response body skipped: no usage in it', result.ngx.INFO))
      result = runner.run(llm_metrics.new({}), request('{}'),
        { status = 200, headers = JSON, body = '["usage"]' })
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

describe('llm-metrics batched reports', function()
  local Batcher = require('llm_metrics_batcher')
  before_each(runner.reset)

  it('sends one report per service and credential type for all responses of a timer interval', function()
    local policy = llm_metrics.new({})
    local first = runner.run(policy, request('{}'), { status = 200, headers = JSON, body = COMPLETION },
      { keep_pending = true })
    runner.run(policy, request('{}'), { status = 200, headers = JSON, body = COMPLETION }, { keep_pending = true })
    runner.run(policy, request('{}'), { status = 200, headers = JSON, body = COMPLETION },
      { keep_pending = true, context = { service = runner.SERVICE, credentials = { user_key = 'other-key' } } })
    assert.same({}, backend_client.reports())
    assert.equal(1, #first.ngx.timers) -- one timer for the whole interval
    first.ngx.run_timers()
    local reports = backend_client.reports()
    assert.equal(1, #reports)
    assert.same({ ['secret-key'] = { prompt_tokens = 10, completion_tokens = 14, total_tokens = 24 },
                  ['other-key'] = { prompt_tokens = 5, completion_tokens = 7, total_tokens = 12 } },
                reports[1].batch.reports)
  end)

  it('hands the Prometheus counts over on the timer, one increment per label set and interval', function()
    local policy = llm_metrics.new({})
    local first
    for i = 1, 3 do
      local result = runner.run(policy, request('{}'), { status = 200, headers = JSON, body = COMPLETION },
        { keep_pending = true })
      first = first or result
    end
    assert.same({}, prometheus.samples('llm_total_tokens_total')) -- nothing per request
    first.ngx.run_timers()
    local samples = prometheus.samples('llm_total_tokens_total')
    assert.equal(1, #samples)
    assert.equal(36, samples[1].value)
    assert.equal('m1', samples[1].labels.model)
  end)

  it('adds pending deltas to the quota check so tokens not flushed yet are not admitted twice', function()
    local policy = llm_metrics.new({ quota = { enabled = true, metrics = { 'total_tokens' } } })
    runner.run(policy, request('{}'), { status = 200, headers = JSON, body = COMPLETION }, { keep_pending = true })
    runner.run(policy, request('{}'), { status = 200, headers = JSON, body = COMPLETION }, { keep_pending = true })
    local asked = {}
    for _, call in ipairs(backend_client.calls) do
      if call.kind == 'authorize' then asked[#asked + 1] = call.usage['usage[total_tokens]'] end
    end
    local own = 2 + 4096 -- this request's bound: its 2 body bytes + the default completion bound
    assert.same({ own, own + 12 }, asked)
  end)

  it('counts an estimate against the quota like real usage (issue 19: no usage from the upstream)', function()
    local policy = llm_metrics.new({ quota = { enabled = true, metrics = { 'total_tokens' } } })
    local body = string.rep('x', 400) -- 100 prompt tokens by the estimate
    runner.run(policy, request(body), { status = 200, headers = JSON, body = '{"choices":[]}' },
      { keep_pending = true })
    runner.run(policy, request('{}'), { status = 200, headers = JSON, body = COMPLETION }, { keep_pending = true })
    local asked = {}
    for _, call in ipairs(backend_client.calls) do
      if call.kind == 'authorize' then asked[#asked + 1] = call.usage['usage[total_tokens]'] end
    end
    -- Its own bound (400 body bytes; not a JSON object, so nothing to generate), then the second
    -- request's (2 + 4096) plus the first one's estimate (100 prompt + ceil(14 / 4)), not flushed yet.
    assert.same({ 400, 2 + 4096 + 100 + 4 }, asked)
  end)

  it('keeps a failed report for the next flush, and drops it only at worker exit', function()
    local status = 503
    backend_client.backend = {
      authorize = function() return { status = 200, headers = {} } end,
      report = function() return { status = status, headers = {} } end,
    }
    local result = runner.run(llm_metrics.new({}), request('{}'),
      { status = 200, headers = JSON, body = COMPLETION })
    assert.equal(1, #backend_client.reports())
    assert.same({ total_tokens = 12, prompt_tokens = 5, completion_tokens = 7 },
                Batcher.pending(42, 'user_key', 'secret-key'))
    assert.is_true(result.ngx.logged('kept for the next flush', result.ngx.WARN))
    result.ngx.run_timers(true) -- the worker exits: the queued timer runs early
    assert.equal(2, #backend_client.reports())
    assert.is_nil(Batcher.pending(42, 'user_key', 'secret-key'))
    assert.is_true(result.ngx.logged('dropped at worker exit', result.ngx.WARN))
  end)

  it('reports at once when no timer can be made', function()
    local ngx_stub = require('ngx_stub')
    _G.ngx = ngx_stub.new(request('{}'))
    ngx.timers_fail = true
    Batcher.add(runner.SERVICE, 'user_key', 'k', { total_tokens = 3 })
    assert.same({ total_tokens = 3 }, backend_client.reported_usage())
  end)
end)

describe('llm-metrics SSE scan', function()
  before_each(runner.reset)

  it('decodes only usage objects, in place, and the last one wins within one chunk', function()
    local stream = 'data: {"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n'
      .. 'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n'
      .. 'data: {"choices":[{"delta":{"content":"b"}}]}\n\n'
      .. 'data: {"model":"m2","usage" : {"prompt_tokens":4,"completion_tokens":5,"total_tokens":9}}\n\n'
      .. 'data: [DONE]\n\n'
    local decoded = 0
    local usage = require('llm_metrics_usage')
    local decode = usage.decode_object
    usage.decode_object = function(text) decoded = decoded + 1 return decode(text) end
    local result = runner.run(llm_metrics.new({}), request(STREAMING), { status = 200, headers = SSE, chunks = { stream } })
    usage.decode_object = decode
    assert.equal(2, decoded)
    assert.equal(4, result.context.llm_metrics.sse.events)
    assert.same({ prompt_tokens = 4, completion_tokens = 5, total_tokens = 9 }, backend_client.reported_usage())
  end)
end)
