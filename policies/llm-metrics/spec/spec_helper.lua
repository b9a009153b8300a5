-- Loaded by busted before the specs (see ../.busted): module paths and a fresh ngx stub.
local spec_dir = (debug.getinfo(1, 'S').source:match('^@(.*)/[^/]*$')) or 'spec'

package.path = table.concat({
  spec_dir .. '/../1.0.0/?.lua',  -- the policy, as APIcast loads it from its version directory
  spec_dir .. '/stubs/?.lua',     -- stand-ins for the APIcast modules the policy requires
  spec_dir .. '/?.lua',
  package.path,
}, ';')

_G.SPEC_DIR = spec_dir
_G.ngx = require('ngx_stub').new()
