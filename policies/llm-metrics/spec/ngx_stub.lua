--- Hand-written stand-in for the parts of OpenResty's `ngx` API the policy uses.
-- Each `new()` is a fresh request: request line/headers/body in, response status/headers, and
-- everything the code under test did (body rewrites, logs, printed output, exit) recorded.

local cjson = require('cjson')

local M = {}

local function header_key(name)
  return (string.gsub(string.lower(name), '_', '-'))
end

-- nginx treats header names case-insensitively and `_` like `-` (ngx.header.content_type).
local function header_table(initial)
  local store = {}
  local t = setmetatable({}, {
    __index = function(_, k) return store[header_key(k)] end,
    __newindex = function(_, k, v) store[header_key(k)] = v end,
    __pairs = function() return next, store, nil end,
  })
  for k, v in pairs(initial or {}) do t[k] = v end
  return t, store
end

local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function M.decode_base64(s)
  s = s:gsub('[^%w%+/=]', '')
  local out, bits, nbits = {}, 0, 0
  for i = 1, #s do
    local c = s:sub(i, i)
    if c == '=' then break end
    bits = bits * 64 + (B64:find(c, 1, true) - 1)
    nbits = nbits + 6
    if nbits >= 8 then
      nbits = nbits - 8
      local byte = math.floor(bits / 2 ^ nbits)
      out[#out + 1] = string.char(byte)
      bits = bits - byte * 2 ^ nbits
    end
  end
  return table.concat(out)
end

function M.new(request)
  request = request or {}
  local ngx = {
    HTTP_OK = 200,
    STDERR = 0, EMERG = 1, ALERT = 2, CRIT = 3, ERR = 4, WARN = 5, NOTICE = 6, INFO = 7, DEBUG = 8,
    null = cjson.null,
    status = 0,
    arg = {},
    logs = {},
    output = {},
    exited = nil,
    decode_base64 = M.decode_base64,
  }

  local request_headers = header_table(request.headers)
  local body = request.body
  ngx.request_body = body -- what the upstream would receive
  ngx.request_headers = request_headers

  ngx.var = setmetatable({}, {
    __index = function(_, name)
      if name == 'content_type' then return request_headers['Content-Type'] end
      if name == 'request_method' then return request.method or 'GET' end
      if name == 'uri' then return request.path and (request.path:gsub('%?.*$', '')) end
      if name == 'content_length' then
        if body == nil or request.chunked then return nil end
        return tostring(#body)
      end
      if name == 'http_transfer_encoding' and request.chunked then return 'chunked' end
      local header = name:match('^http_(.*)$')
      if header then return request_headers[header] end
      return nil
    end,
  })

  ngx.req = {
    body_read = false,
    read_body = function() ngx.req.body_read = true end,
    get_body_data = function()
      assert(ngx.req.body_read, 'ngx.req.get_body_data before ngx.req.read_body')
      if request.body_in_file then return nil end
      if body == nil or body == '' then return nil end
      return body
    end,
    -- Like nginx with a body over client_body_buffer_size: the data is only in a temporary file.
    get_body_file = function()
      if not request.body_in_file then return nil end
      if not ngx.body_file then
        ngx.body_file = os.tmpname()
        local file = assert(io.open(ngx.body_file, 'wb'))
        file:write(body)
        file:close()
      end
      return ngx.body_file
    end,
    -- As lua-nginx-module's ngx.req.set_body_data: the request's Content-Length follows the new body.
    set_body_data = function(data)
      body = data
      ngx.request_body = data
      request_headers['Content-Length'] = tostring(#data)
    end,
    set_header = function(name, value) request_headers[name] = value end,
    get_method = function() return request.method or 'GET' end,
    get_headers = function() return request_headers end,
  }

  ngx.header = header_table()

  -- Timers are queued and run by `run_timers` (the runner calls it after post_action).
  ngx.timers = {}
  ngx.timer = {
    at = function(delay, callback, ...)
      if ngx.timers_fail then return nil, 'process exiting' end
      ngx.timers[#ngx.timers + 1] = { delay = delay, callback = callback, args = { ... } }
      return true
    end,
  }
  -- One timer interval: runs the timers queued so far (ones they queue wait for the next call).
  function ngx.run_timers(premature)
    local due = ngx.timers
    ngx.timers = {}
    for _, timer in ipairs(due) do
      timer.callback(premature or false, unpack(timer.args))
    end
  end

  ngx.log = function(level, ...)
    local parts = {}
    for i = 1, select('#', ...) do parts[#parts + 1] = tostring((select(i, ...))) end
    ngx.logs[#ngx.logs + 1] = { level = level, message = table.concat(parts) }
  end

  ngx.print = function(...)
    for i = 1, select('#', ...) do ngx.output[#ngx.output + 1] = tostring((select(i, ...))) end
    return 1
  end
  ngx.say = function(...) ngx.print(...); ngx.print('\n') return 1 end

  ngx.exit = function(code)
    ngx.exited = code
  end

  --- Upstream answered: status and headers as header_filter sees them.
  function ngx.set_response(status, headers)
    ngx.status = status
    for k, v in pairs(headers or {}) do ngx.header[k] = v end
  end

  --- True when a log line at `level` or more severe contains `text`.
  function ngx.logged(text, level)
    for _, entry in ipairs(ngx.logs) do
      if (not level or entry.level <= level) and entry.message:find(text, 1, true) then return true end
    end
    return false
  end

  return ngx
end

return M
