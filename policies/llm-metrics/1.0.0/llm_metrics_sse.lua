--- Incremental server-sent events parser.
-- Fed with body chunks exactly as they arrive; keeps only the unfinished line and the data lines
-- of the event being assembled, so a stream is never buffered. Follows the WHATWG rules the
-- OpenAI-compatible servers rely on: CRLF, LF or CR line ends (also split across chunks), `:`
-- comments, `data:` lines joined with "\n", dispatch on a blank line, unterminated event dropped.
--
-- Fast path: while a stream has no CR (OpenAI-compatible servers end lines with LF), it is cut into
-- events at "\n\n" with plain finds, and an event that is one `data:` line is dispatched without
-- the line parser; anything else (comments, other fields, multi-line data) goes through the line
-- parser, and the first CR switches the stream to the line parser for good (a CR may end a chunk).

local find = string.find
local sub = string.sub
local byte = string.byte
local concat = table.concat
local setmetatable = setmetatable

local CR = 13
local LF = 10

-- Longest line kept while waiting for its end; a longer one is dropped (and logged by the caller
-- through the `overflowed` flag) rather than growing memory without bound.
local DEFAULT_MAX_LINE = 1024 * 1024

local _M = {}
local mt = { __index = _M }

--- New parser; `on_event(data)` is called with the data of each complete event. `events` counts
-- the dispatched events whose data is not `[DONE]`. With `wanted(buffer, first, last)`, a one-line
-- `data:` event on the fast path is handed to `on_event` only if `wanted` says so for its data
-- (bytes first..last of buffer): the caller can look inside without a string made per event.
function _M.new(on_event, max_line, wanted)
  return setmetatable({
    on_event = on_event,
    wanted = wanted,
    events = 0,
    max_line = max_line or DEFAULT_MAX_LINE,
    partial = '',
    data = nil,        -- list of data lines of the event being assembled
    skip_lf = false,   -- the previous chunk ended with CR: a leading LF belongs to it
    discarding = false, -- inside an over-long line: drop bytes until its end
    overflowed = false,
    fast = true,       -- no CR seen yet: `partial` holds the unfinished event, not just a line
  }, mt)
end

local function process_line(self, line)
  if line == '' then
    local data = self.data
    self.data = nil
    if data then
      local text = concat(data, '\n')
      if text ~= '[DONE]' then self.events = self.events + 1 end
      self.on_event(text)
    end
    return
  end

  if byte(line, 1) == 58 then return end -- ':' comment

  local colon = find(line, ':', 1, true)
  local field, value
  if colon then
    field = sub(line, 1, colon - 1)
    value = sub(line, colon + 1)
    if byte(value, 1) == 32 then value = sub(value, 2) end
  else
    field, value = line, ''
  end

  if field == 'data' then
    local data = self.data
    if data then data[#data + 1] = value else self.data = { value } end
  end
end

local line_feed

-- One complete event's text (without its terminating blank line), through the line parser.
local function dispatch_text(self, text)
  line_feed(self, text .. '\n\n')
end

-- Whether the line at `pos` starts with `data:`, compared byte by byte (no string made per event).
local function is_data(buffer, pos)
  local d, a, t, a2, colon = byte(buffer, pos, pos + 4)
  return d == 100 and a == 97 and t == 116 and a2 == 97 and colon == 58
end

local function fast_feed(self, chunk)
  local buffer = chunk
  if self.partial ~= '' then
    buffer = self.partial .. chunk
    self.partial = ''
  end
  local pos = 1
  while true do
    local stop = find(buffer, '\n\n', pos, true)
    if not stop then break end
    if stop > pos then
      if is_data(buffer, pos) and find(buffer, '\n', pos, true) == stop then
        local start = pos + 5
        if byte(buffer, start) == 32 then start = start + 1 end
        local last = stop - 1
        if not (last - start == 5 and find(buffer, '[DONE]', start, true) == start) then
          self.events = self.events + 1
        end
        local wanted = self.wanted
        if not wanted or wanted(buffer, start, last) then self.on_event(sub(buffer, start, last)) end
      else
        dispatch_text(self, sub(buffer, pos, stop - 1))
      end
    end
    pos = stop + 2
  end
  if pos <= #buffer then
    local rest = sub(buffer, pos)
    if #rest > self.max_line then
      -- An over-long unfinished event: let the line parser apply its line limit.
      self.fast = false
      line_feed(self, rest)
    else
      self.partial = rest
    end
  end
end

--- Feed one chunk of the body.
function _M:feed(chunk)
  if not chunk or chunk == '' then return end
  if self.fast then
    if not find(chunk, '\r', 1, true) then return fast_feed(self, chunk) end
    -- First CR: the unfinished event so far goes to the line parser, which takes over.
    self.fast = false
    local pending = self.partial
    self.partial = ''
    if pending ~= '' then line_feed(self, pending) end
  end
  return line_feed(self, chunk)
end

line_feed = function(self, chunk)
  if not chunk or chunk == '' then return end

  local pos = 1
  if self.skip_lf then
    self.skip_lf = false
    if byte(chunk, 1) == LF then pos = 2 end
  end

  local buffer = chunk
  if self.partial ~= '' then
    buffer = self.partial .. sub(chunk, pos)
    pos = 1
    self.partial = ''
  end

  local len = #buffer
  while pos <= len do
    local eol = find(buffer, '[\r\n]', pos)
    if not eol then
      if self.discarding then return end
      local rest = sub(buffer, pos)
      if #rest > self.max_line then
        self.discarding = true
        self.overflowed = true
      else
        self.partial = rest
      end
      return
    end

    if self.discarding then
      self.discarding = false
    else
      process_line(self, sub(buffer, pos, eol - 1))
    end

    if byte(buffer, eol) == CR then
      if eol == len then
        self.skip_lf = true
      elseif byte(buffer, eol + 1) == LF then
        eol = eol + 1
      end
    end
    pos = eol + 1
  end
end

--- End of stream: an unterminated line or event is discarded.
function _M:finish()
  self.partial = ''
  self.data = nil
end

return _M
