local Request = require('llm_metrics_request')
local cjson = require('cjson')

describe('forcing stream_options.include_usage', function()
  it('splices the option in before the last brace without re-encoding', function()
    local body = '{"model": "m", "stream": true, "messages": [{"role": "user", "content": "a/b \\u00e9"}]}'
    local new_body = Request.with_include_usage(body)
    assert.equal('{"model": "m", "stream": true, "messages": [{"role": "user", "content": "a/b \\u00e9"}]'
      .. ',"stream_options":{"include_usage":true}}', new_body)
    assert.is_true(cjson.decode(new_body).stream_options.include_usage)
  end)

  it('keeps trailing whitespace after the object', function()
    assert.equal('{"stream":true,"stream_options":{"include_usage":true}}\n\n',
                 Request.with_include_usage('{"stream":true}\n\n'))
  end)

  it('leaves bodies alone that need no change', function()
    for _, body in ipairs({
      '{"stream": true, "stream_options": {"include_usage": true}}',
      '{"stream": false}',
      '{"stream": "true"}',
      '{"model": "m"}',
      '[{"stream": true}]',
      '{"stream": true',
      'stream=true',
      '',
    }) do
      assert.is_nil((Request.with_include_usage(body)), body)
    end
    assert.is_nil((Request.with_include_usage(nil)))
  end)

  it('sets include_usage and keeps the other stream options when it is false', function()
    local new_body = Request.with_include_usage(
      '{"stream":true,"stream_options":{"include_usage":false,"continuous_usage_stats":true}}')
    local decoded = cjson.decode(new_body)
    assert.same({ include_usage = true, continuous_usage_stats = true }, decoded.stream_options)
    assert.is_true(decoded.stream)
  end)

  it('replaces stream_options that is null or not an object', function()
    for _, options in ipairs({ 'null', '1', '"x"', '{}' }) do
      local new_body = Request.with_include_usage('{"stream":true,"stream_options":' .. options .. '}')
      assert.same({ include_usage = true }, cjson.decode(new_body).stream_options, options)
    end
  end)

  it('reads the request model lazily', function()
    assert.equal('m', Request.model_of('{"model":"m","stream":true}'))
    assert.is_nil(Request.model_of('{"model":7}'))
    assert.is_nil(Request.model_of('{"model":'))
    assert.is_nil(Request.model_of(nil))
  end)
end)
