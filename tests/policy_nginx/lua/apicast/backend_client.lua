-- The calls of APIcast's `apicast.backend_client` (gateway/src/apicast/backend_client.lua) the
-- policy makes, sent over real HTTP to the fake 3scale backend named by service.backend:
-- authorize = GET /transactions/authorize.xml, report = POST /transactions.xml (form-encoded
-- transactions, as 3scale's Service Management API takes them). Works in timers (cosockets).
local concat = table.concat
local escape = ngx.escape_uri

local _M = {}
local mt = { __index = _M }

function _M:new(service)
  if not service or not service.backend then return nil, 'no backend' end
  return setmetatable({ service = service, host = service.backend.host, port = service.backend.port }, mt)
end

local function call(self, method, path, body)
  local sock = ngx.socket.tcp()
  sock:settimeout(2000)
  local ok, err = sock:connect(self.host, self.port)
  if not ok then return { status = 0, headers = {}, body = err } end
  local request = { method, ' ', path, ' HTTP/1.0\r\nHost: backend\r\n' }
  if body then request[#request + 1] = 'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: '
    .. #body .. '\r\n' end
  request[#request + 1] = '\r\n'
  request[#request + 1] = body or ''
  sock:send(concat(request))
  local status_line = sock:receive('*l')
  local status = tonumber(status_line and status_line:match('^HTTP/%d%.%d (%d+)')) or 0
  local headers = {}
  while true do
    local line = sock:receive('*l')
    if not line or line == '' then break end
    local name, value = line:match('^([^:]+):%s*(.*)$')
    if name then headers[name:lower()] = value end
  end
  local rest = sock:receive('*a')
  sock:close()
  return { status = status, headers = headers, body = rest, ok = status >= 200 and status < 300 }
end

function _M:authorize(usage, credentials)
  local args = { 'service_id=' .. escape(tostring(self.service.id)) }
  for k, v in pairs(credentials or {}) do args[#args + 1] = escape(k) .. '=' .. escape(tostring(v)) end
  for k, v in pairs(usage or {}) do args[#args + 1] = escape(k) .. '=' .. escape(tostring(v)) end
  -- Header names are lower-cased, so the policy finds `3scale-rejection-reason` as with APIcast's client.
  return call(self, 'GET', '/transactions/authorize.xml?' .. concat(args, '&'))
end

function _M:report(batch)
  local args = { 'service_id=' .. escape(tostring(batch.service_id)) }
  local i = 0
  for credential, metrics in pairs(batch.reports) do
    local prefix = 'transactions[' .. i .. ']'
    args[#args + 1] = escape(prefix .. '[' .. batch.credentials_type .. ']') .. '=' .. escape(credential)
    for metric, value in pairs(metrics) do
      args[#args + 1] = escape(prefix .. '[usage][' .. metric .. ']') .. '=' .. tostring(value)
    end
    i = i + 1
  end
  return call(self, 'POST', '/transactions.xml', concat(args, '&'))
end

return _M
