-- Token quota: check at request time with authorize (usage metric=1), report real tokens after.
local runner = require('policy_runner')
local backend_client = require('apicast.backend_client')
local llm_metrics = require('llm_metrics')

local JSON = { ['Content-Type'] = 'application/json' }
local REQUEST = { method = 'POST', path = '/v1/chat/completions', headers = JSON, body = '{"model":"m"}' }
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
        return { status = 409, headers = { ['3scale-rejection-reason'] = 'limits_exceeded',
                                           ['3scale-limit-reset'] = backend.reset_in,
                                           ['3scale-limit-max-value'] = tostring(max) },
                 -- apisonator's authorize XML (transactor/status.rb): one usage_report per limit
                 body = '<?xml version="1.0" encoding="UTF-8"?><status><authorized>false</authorized>'
                   .. '<reason>usage limits are exceeded</reason><plan>Standard</plan><usage_reports>'
                   .. '<usage_report metric="' .. metric .. '" period="hour" exceeded="true"><max_value>' .. max
                   .. '</max_value><current_value>' .. (backend.usage[metric] or 0) .. '</current_value>'
                   .. '</usage_report>'
                   .. '<usage_report metric="hits" period="minute"><period_start>2025-06-01 10:00:00 +0000'
                   .. '</period_start><max_value>100</max_value><current_value>3</current_value></usage_report>'
                   .. '</usage_reports></status>' }
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

  it('asks authorize with usage 1 for every quota metric and the request credentials', function()
    runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12))
    local calls = authorize_calls()
    assert.equal(1, #calls)
    assert.same({ ['usage[prompt_tokens]'] = 1, ['usage[completion_tokens]'] = 1, ['usage[total_tokens]'] = 1 },
                calls[1].usage)
    assert.same({ user_key = 'secret-key' }, calls[1].credentials)
    assert.equal(42, calls[1].service_id)
  end)

  it('checks only the configured quota metrics', function()
    runner.run(llm_metrics.new({ quota = { enabled = true, metrics = { 'total_tokens' } } }), REQUEST, completion(12))
    assert.same({ ['usage[total_tokens]'] = 1 }, authorize_calls()[1].usage)
  end)

  it('admits while below the limit, rejects once used up, overshoot at most one request', function()
    local backend = fake_backend({ total_tokens = 30 })
    backend_client.backend = backend
    local policy = llm_metrics.new({ quota = { enabled = true, metrics = { 'total_tokens' } } })

    local statuses = {}
    for i = 1, 5 do
      local result = runner.run(policy, REQUEST, completion(12))
      statuses[i] = result.ngx.exited and result.ngx.status or 200
    end

    -- 0+1, 12+1, 24+1 <= 30 admitted; 36+1 > 30 rejected; the quota stays used up.
    assert.same({ 200, 200, 200, 429, 429 }, statuses)
    assert.equal(36, backend.usage.total_tokens)
    assert.is_true(backend.usage.total_tokens - 30 <= 12)
    assert.equal(3, #backend_client.reports())
  end)

  it('answers a rejection: 429, JSON naming the limit and period, Retry-After, nothing reported', function()
    local backend = fake_backend({ total_tokens = 0 })
    backend_client.backend = backend
    local policy = llm_metrics.new({ quota = { enabled = true } })
    local result = runner.run(policy, REQUEST, completion(12))

    assert.equal(429, result.ngx.status)
    local body = require('cjson').decode(table.concat(result.ngx.output))
    assert.equal('Token quota of your plan reached: 0 total_tokens per hour. Retry after 1800 seconds. '
      .. 'The limits of each plan are shown on the developer portal.', body.error.message)
    assert.equal('tokens', body.error.type)
    assert.equal('rate_limit_exceeded', body.error.code)
    assert.equal('1800', result.ngx.header['Retry-After'])
    assert.equal('application/json', result.ngx.header.content_type)
    assert.equal(200, result.ngx.exited) -- ngx.exit(ngx.HTTP_OK) after printing, as APIcast does
    assert.same({}, backend_client.reports())
    assert.is_nil(backend.usage.total_tokens)
  end)

  it('uses the service limits status (429 without one); without a usage report it names no limit', function()
    local backend = fake_backend({ total_tokens = 0 })
    local authorize = backend.authorize
    backend.authorize = function(call)
      local res = authorize(call)
      res.body = nil
      return res
    end
    backend_client.backend = backend
    local service = { id = 9, error_limits_exceeded = 'fixed text', limits_exceeded_status = 503 }
    local result = runner.run(llm_metrics.new({ quota = { enabled = true } }), REQUEST, completion(12),
      { context = { service = service, credentials = { user_key = 'k' } } })
    assert.equal(503, result.ngx.status)
    local body = require('cjson').decode(table.concat(result.ngx.output))
    assert.equal('Token quota of your plan reached. Retry after 1800 seconds. '
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
