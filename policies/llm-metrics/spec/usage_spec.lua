local Usage = require('llm_metrics_usage')
local cjson = require('cjson')

describe('usage extraction', function()
  it('decodes objects and refuses everything else without raising', function()
    assert.same({ a = 1 }, Usage.decode_object('{"a":1}'))
    for _, text in ipairs({ '', '   ', 'null', '1', '"s"', '[1]', '{"a":', '<html>', '\31\139\8\0' }) do
      local value, err = Usage.decode_object(text)
      assert.is_nil(value, text)
      assert.is_string(err)
    end
    assert.is_nil((Usage.decode_object(nil)))
  end)

  it('keeps positive integer counts only', function()
    local counts = Usage.from_object(cjson.decode(
      '{"usage":{"prompt_tokens":5.9,"completion_tokens":0,"total_tokens":"12","extra":3}}'))
    assert.same({ prompt_tokens = 5 }, counts)
    assert.same({}, Usage.from_object(cjson.decode('{"usage":{"prompt_tokens":-3}}')))
  end)

  it('has no counts without a usage object', function()
    assert.is_nil(Usage.from_object(cjson.decode('{"usage":null}')))
    assert.is_nil(Usage.from_object(cjson.decode('{"usage":[1]}')) and nil)
    assert.is_nil(Usage.from_object({}))
    assert.is_nil(Usage.from_object(nil))
  end)

  it('maps counts to metric deltas by rule and status, summing shared metrics', function()
    local rules = {
      { metric = 'a', usage = 'prompt_tokens', statuses = { 200 } },
      { metric = 'a', usage = 'completion_tokens', statuses = { 200, 201 } },
      { metric = 'b', usage = 'total_tokens', statuses = { 500 } },
    }
    local counts = { prompt_tokens = 5, completion_tokens = 7, total_tokens = 12 }
    assert.same({ a = 12 }, Usage.deltas(rules, counts, 200))
    assert.same({ a = 7 }, Usage.deltas(rules, counts, 201))
    assert.same({ b = 12 }, Usage.deltas(rules, counts, 500))
    assert.is_nil(Usage.deltas(rules, counts, 404))
    assert.is_nil(Usage.deltas(rules, {}, 200))
    assert.is_nil(Usage.deltas(rules, nil, 200))
    assert.is_true(Usage.any_rule_for_status(rules, 201))
    assert.is_false(Usage.any_rule_for_status(rules, 404))
  end)

  it('reports whole units of `per` and carries the remainder so nothing is lost', function()
    local rules = {
      { metric = 'prompt_tokens', usage = 'prompt_tokens', statuses = { 200 } },
      { metric = 'prompt_tokens_k', usage = 'prompt_tokens', statuses = { 200 }, per = 1000 },
    }
    local carry = {}
    assert.same({ prompt_tokens = 700 }, Usage.deltas(rules, { prompt_tokens = 700 }, 200, carry))
    assert.same({ prompt_tokens_k = 700 }, carry)
    assert.same({ prompt_tokens = 2800, prompt_tokens_k = 3 },
                Usage.deltas(rules, { prompt_tokens = 2800 }, 200, carry))
    assert.same({ prompt_tokens_k = 500 }, carry)
    -- without a carry table the remainder is dropped: floor per response
    assert.same({ prompt_tokens = 1999, prompt_tokens_k = 1 }, Usage.deltas(rules, { prompt_tokens = 1999 }, 200))
  end)
end)
