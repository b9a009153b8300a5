-- Token quota: check at request time with authorize (usage = this request's upper bound + tokens not
-- flushed yet), report real tokens after.
local runner = require('policy_runner')
local backend_client = require('apicast.backend_client')
local llm_metrics = require('llm_metrics')

local JSON = { ['Content-Type'] = 'application/json' }
local BODY = '{"model":"m","max_tokens":5}'
local REQUEST = { method = 'POST', path = '/v1/chat/completions', headers = JSON, body = BODY }
local BOUND = #BODY + 5 -- prompt <= body bytes, completion <= max_tokens
local function completion(total)
  return { status = 200, headers = JSON,
    body = '{"model":"m","usage":{"prompt_tokens":2,"completion_tokens":' .. (total - 2) .. ',"total_tokens":' .. total .. '}}' }
end

-- A tiny 3scale backend: `limits` metric -> max per period; authorize checks current + delta <= max
-- (counting nothing), report adds. Like apisonator for a single period.
local function fake_backend(limits)
  local backend = { usage = {}, limits = limits, reset_in = '1800' }
  function backend.authorize(call)
    for key, delta in pairs(call.usage) do
      local metric = key:match('^usage%[(.*)%]$')
      local max = limits[metric]
      if max and (backend.usage[metric] or 0) + delta > max then
        -- As apisonator answers APIcast's client (no_body=1, limit_headers=1): headers only.
        return { status = 409, headers = { ['3scale-rejection-reason'] = 'limits_exceeded',
                                           ['3scale-limit-reset'] = backend.reset_in,
                                           ['3scale-limit-max-value'] = tostring(max),
                                           ['3scale-limit-remaining'] = tostring(math.max(0, max - (backend.usage[metric] or 0))) } }
      end
    end
    return { status = 200, headers = {} }
  end
  function backend.report(call)
    for _, deltas in pairs(call.batch.reports) do
      for metric, value in pairs(deltas) do backend.usage[metric] = (backend.usage[metric] or 0) + value end
    end
    return { status = 202, headers = {} }
  end
  return backend
end

local function authorize_calls()
  local calls = {}
  for _, call in ipairs(backend_client.calls) do
    if call.kind == 'authorize' then calls[#calls + 1] = call end
  end
  return calls
end

describe('token quota', function()
  before_each(runner.reset)

  it('is off by default: no authorize call', function()
    runner.run(llm_metrics.new({}), REQUEST, completion(12))
    assert.same({}, authorize_calls())
    assert.equal(1, #backend_client.reports())
  end)

  it('asks authorize with this request\'s upper bound for every quota metric, with its credentials', function()
    runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12))
    local calls = authorize_calls()
    assert.equal(1, #calls)
    assert.same({ ['usage[prompt_tokens]'] = #BODY, ['usage[completion_tokens]'] = 5, ['usage[total_tokens]'] = BOUND },
                calls[1].usage)
    assert.same({ user_key = 'secret-key' }, calls[1].credentials)
    assert.equal(42, calls[1].service_id)
  end)

  it('checks only the configured quota metrics', function()
    runner.run(llm_metrics.new({ quota = { enabled = true, metrics = { 'total_tokens' } } }), REQUEST, completion(12))
    assert.same({ ['usage[total_tokens]'] = BOUND }, authorize_calls()[1].usage)
  end)

  it('bounds a request by its body, max_tokens x choices, the default, and nothing to generate', function()
    local Quota = require('llm_metrics_quota')
    local rules = llm_metrics.new({}).rules
    local function total(body, path)
      return Quota.estimate(rules, body, #body, path or '/v1/chat/completions', 100).total_tokens
    end
    assert.equal(#BODY + 5, total(BODY))
    local multi = '{"max_tokens":5,"max_completion_tokens":9,"n":3,"best_of":4}'
    assert.equal(#multi + 9 * 4, total(multi))
    assert.equal(#'{"model":"m"}' + 100, total('{"model":"m"}')) -- no max_tokens: the default
    assert.equal(#'{"input":["a","b"]}', total('{"input":["a","b"]}', '/v1/embeddings'))
    assert.equal(#'not json', total('not json'))
    local priced = llm_metrics.new({ rules = { { metric = 'tokens_k', usage = 'total_tokens', per = 1000 } } }).rules
    assert.equal(2, Quota.estimate(priced, '{"max_tokens":1500}', 19, '/v1/completions').tokens_k)
  end)

  it('refuses a request whose own bound does not fit what is left, naming the limit (issue 28)', function()
    local backend = fake_backend({ total_tokens = 20000 })
    backend_client.backend = backend
    local inputs = {}
    for i = 1, 2048 do inputs[i] = '"' .. string.rep('word ', 10) .. i .. '"' end
    local body = '{"model":"e","input":[' .. table.concat(inputs, ',') .. ']}'
    local embeddings = { method = 'POST', path = '/v1/embeddings', headers = JSON, body = body }
    local result = runner.run(llm_metrics.new({ quota = { enabled = true, metrics = { 'total_tokens' } } }),
      embeddings, completion(563200))
    assert.equal(429, result.ngx.status)
    assert.equal('limit=20000; remaining=20000; requested=' .. #body, result.ngx.header['X-LLM-Quota'])
    assert.same({}, backend_client.reports())
  end)

  it('admits while this request\'s bound fits what is left: the quota is never passed', function()
    local backend = fake_backend({ total_tokens = 100 })
    backend_client.backend = backend
    local policy = llm_metrics.new({ quota = { enabled = true, metrics = { 'total_tokens' } } })

    local statuses = {}
    for i = 1, 8 do
      local result = runner.run(policy, REQUEST, completion(12))
      statuses[i] = result.ngx.exited and result.ngx.status or 200
    end

    -- BOUND is 33: 0, 12, ... 60 (+33 <= 100) admitted; 72 + 33 > 100 refused, and stays refused.
    assert.equal(33, BOUND)
    assert.same({ 200, 200, 200, 200, 200, 200, 429, 429 }, statuses)
    assert.equal(72, backend.usage.total_tokens)
    assert.equal(6, #backend_client.reports())
  end)

  it('answers a rejection: 429, JSON naming the limit, Retry-After, nothing reported', function()
    local backend = fake_backend({ total_tokens = 0 })
    backend_client.backend = backend
    local policy = llm_metrics.new({ quota = { enabled = true } })
    local result = runner.run(policy, REQUEST, completion(12))

    assert.equal(429, result.ngx.status)
    local body = require('cjson').decode(table.concat(result.ngx.output))
    -- headers only (APIcast's client sends no_body=1): the limit's value, and when its period ends
    assert.equal('Token quota of your plan reached: a limit of 0 tokens whose period ends in 1800 seconds. '
      .. 'The limits of each plan are shown on the developer portal.', body.error.message)
    assert.same({ 'tokens', 'rate_limit_exceeded' }, { body.error.type, body.error.code })
    assert.equal('1800', result.ngx.header['Retry-After'])
    assert.equal('application/json', result.ngx.header.content_type)
    assert.equal(200, result.ngx.exited) -- ngx.exit(ngx.HTTP_OK) after printing, as APIcast does
    assert.same({}, backend_client.reports())
    assert.is_nil(backend.usage.total_tokens)
  end)

  it('uses the service limits status (429 without one); an XML answer names metric and period', function()
    local backend = fake_backend({ total_tokens = 0 })
    local authorize = backend.authorize
    backend.authorize = function(call)  -- apisonator's XML (transactor/status.rb), as for OAuth native
      local res = authorize(call)
      res.body = '<status><authorized>false</authorized><usage_reports>'
        .. '<usage_report metric="total_tokens" period="hour" exceeded="true"><max_value>0</max_value>'
        .. '<current_value>0</current_value></usage_report>'
        .. '<usage_report metric="hits" period="minute"><max_value>100</max_value>'
        .. '<current_value>3</current_value></usage_report></usage_reports></status>'
      return res
    end
    backend_client.backend = backend
    local service = { id = 9, error_limits_exceeded = 'fixed text', limits_exceeded_status = 503 }
    local result = runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12),
      { context = { service = service, credentials = { user_key = 'k' } } })
    assert.equal(503, result.ngx.status)
    local body = require('cjson').decode(table.concat(result.ngx.output))
    assert.equal('Token quota of your plan reached: 0 total_tokens per hour. Retry after 1800 seconds. '
      .. 'The limits of each plan are shown on the developer portal.', body.error.message)

    result = runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12),
      { context = { service = { id = 9 }, credentials = { user_key = 'k' } } })
    assert.equal(429, result.ngx.status)
  end)

  it('omits Retry-After for a limit that never resets', function()
    local backend = fake_backend({ total_tokens = 0 })
    backend.reset_in = '-1'
    backend_client.backend = backend
    local result = runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12))
    assert.equal(429, result.ngx.status)
    assert.is_nil(result.ngx.header['Retry-After'])
  end)

  it('admits when the backend is unavailable, and logs it', function()
    backend_client.backend = {
      authorize = function() return { status = 0, headers = {} } end,
      report = function() return { status = 202 } end,
    }
    local result = runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12))
    assert.is_nil(result.ngx.exited)
    assert.is_true(result.ngx.logged('backend unavailable', result.ngx.WARN))
    assert.equal(1, #backend_client.reports())
  end)

  it('leaves other rejections (bad key, unknown metric) to the apicast policy', function()
    backend_client.backend = {
      authorize = function()
        return { status = 404, headers = { ['3scale-rejection-reason'] = 'metric_invalid' } }
      end,
      report = function() return { status = 202 } end,
    }
    local result = runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12))
    assert.is_nil(result.ngx.exited)
    assert.is_true(result.ngx.logged('metric_invalid', result.ngx.WARN))
  end)

  it('admits without credentials in the context (nothing to check against)', function()
    local result = runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12),
      { context = { service = runner.SERVICE } })
    assert.is_nil(result.ngx.exited)
    assert.same({}, authorize_calls())
  end)
end)
