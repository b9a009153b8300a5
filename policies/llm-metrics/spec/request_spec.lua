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

  it('finds the request model without decoding a plain body, and decodes only when it must', function()
    assert.equal('m', Request.model_in('{"model":"m","stream":true}'))
    assert.equal('m', Request.model_in('{ "messages": [{"content":"say \\"model\\": \\"x\\""}], "model" : "m" }'))
    assert.equal('a"b', Request.model_in('{"model":"a\\"b"}')) -- escapes: decoded
    assert.is_nil(Request.model_in('{"model":7}'))
    assert.is_nil(Request.model_in('{"model":'))
    assert.is_nil(Request.model_in('{"name":"model"}'))
    assert.is_nil(Request.model_in(nil))
  end)

  it('hands back the model of a body it decoded', function()
    local _, _, model = Request.with_include_usage('{"model":"m","stream":true}')
    assert.equal('m', model)
    _, _, model = Request.with_include_usage('{"model":"m","stream":false}')
    assert.equal('m', model)
  end)
end)
