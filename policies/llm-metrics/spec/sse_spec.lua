local SSE = require('llm_metrics_sse')

local function parse(chunks, max_line)
  local events = {}
  local parser = SSE.new(function(data) events[#events + 1] = data end, max_line)
  for _, chunk in ipairs(chunks) do parser:feed(chunk) end
  parser:finish()
  return events, parser
end

local function bytes_of(s)
  local out = {}
  for i = 1, #s do out[i] = s:sub(i, i) end
  return out
end

describe('SSE parser', function()
  local stream = 'data: one\n\n: comment\nevent: x\ndata: two\ndata: lines\n\ndata:three\r\n\r\ndata: four\r\rdata: [DONE]\n\n'
  local expected = { 'one', 'two\nlines', 'three', 'four', '[DONE]' }

  it('parses a whole stream', function()
    assert.same(expected, (parse({ stream })))
  end)

  it('gives the same events for every split of the stream into two chunks', function()
    for cut = 0, #stream do
      assert.same(expected, (parse({ stream:sub(1, cut), stream:sub(cut + 1) })), 'cut at ' .. cut)
    end
  end)

  it('gives the same events when fed one byte at a time', function()
    assert.same(expected, (parse(bytes_of(stream))))
  end)

  it('treats CR then LF in the next chunk as one line end', function()
    assert.same({ 'a\nb' }, (parse({ 'data: a\r', '\ndata: b\r', '\n\r', '\n' })))
  end)

  it('ignores empty chunks and nil', function()
    local events = {}
    local parser = SSE.new(function(d) events[#events + 1] = d end)
    parser:feed('')
    parser:feed(nil)
    parser:feed('data: x\n\n')
    assert.same({ 'x' }, events)
  end)

  it('drops an unterminated event at end of stream', function()
    assert.same({ 'a' }, (parse({ 'data: a\n\ndata: b\n' })))
    assert.same({ 'a' }, (parse({ 'data: a\n\ndata: b' })))
  end)

  it('keeps a field value without a space and strips only one space', function()
    assert.same({ 'x', ' y' }, (parse({ 'data:x\n\ndata:  y\n\n' })))
  end)

  it('a line that is only "data" is an empty data line', function()
    assert.same({ '' , 'a\n'}, (parse({ 'data\n\ndata: a\ndata\n\n' })))
  end)

  it('a blank line without data dispatches nothing', function()
    assert.same({}, (parse({ '\n\n\r\n: only comments\n\nid: 3\n\n' })))
  end)

  it('never holds more than the unfinished line (no stream buffering)', function()
    local events, biggest = 0, 0
    local parser = SSE.new(function() events = events + 1 end)
    local event = 'data: {"choices":[{"delta":{"content":"token"}}]}\n\n'
    for _ = 1, 2000 do
      -- split every event in the middle, like a proxy would
      parser:feed(event:sub(1, 20))
      biggest = math.max(biggest, #parser.partial)
      parser:feed(event:sub(21))
      biggest = math.max(biggest, #parser.partial)
    end
    assert.equal(2000, events)
    assert.is_true(biggest <= 20)
  end)

  it('drops an over-long line instead of growing without bound', function()
    local events, parser = parse({ 'data: ' .. string.rep('x', 100), string.rep('y', 100) .. '\n\n', 'data: ok\n\n' }, 64)
    assert.same({ 'ok' }, events)
    assert.is_true(parser.overflowed)
  end)
end)

describe('SSE parser fast path (LF-only streams)', function()
  local lf_stream = 'data: {"a":1,"usage":null}\n\n: keep-alive\n\ndata: two\ndata: lines\n\n\n'
    .. 'event: x\ndata: three\n\ndata:four\n\ndata: [DONE]\n\ndata: unterminated\n'
  local lf_expected = { '{"a":1,"usage":null}', 'two\nlines', 'three', 'four', '[DONE]' }

  local function slow_parse(chunks)
    local events = {}
    local parser = SSE.new(function(data) events[#events + 1] = data end)
    parser.fast = false
    for _, chunk in ipairs(chunks) do parser:feed(chunk) end
    parser:finish()
    return events
  end

  it('gives the line parser\'s events for every split into three chunks', function()
    assert.same(lf_expected, slow_parse({ lf_stream }))
    for i = 0, #lf_stream do
      for j = i, #lf_stream, 7 do
        local chunks = { lf_stream:sub(1, i), lf_stream:sub(i + 1, j), lf_stream:sub(j + 1) }
        assert.same(lf_expected, (parse(chunks)), 'split at ' .. i .. ',' .. j)
      end
    end
  end)

  it('hands over to the line parser at the first CR, keeping the unfinished event', function()
    local events, parser = parse({ 'data: one\n\ndata: tw', 'o\r\n\r\ndata: three\n\n' })
    assert.same({ 'one', 'two', 'three' }, events)
    assert.is_false(parser.fast)
  end)

  it('keeps the line limit for an over-long unfinished event', function()
    local events, parser = parse({ 'data: ' .. string.rep('x', 100), 'yyy\n\ndata: ok\n\n' }, 50)
    assert.same({ 'ok' }, events)
    assert.is_true(parser.overflowed)
  end)
end)
