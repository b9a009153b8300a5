#!/usr/bin/env bash
# Runs the busted specs of every policy version that has them; exits non-zero on any failure.
# Needs the Debian packages lua-busted, luajit2 and lua-cjson (CI installs them in .ci/run). luajit2 is
# OpenResty's LuaJIT branch, the runtime of APIcast and of Debian's libnginx-mod-http-lua (Debian's
# luajit package conflicts with that module).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v busted >/dev/null 2>&1; then
  echo "busted not found: apt-get install -y lua-busted luajit2 lua-cjson" >&2
  exit 2
fi

# Prefer LuaJIT (luajit2 provides /usr/bin/luajit), the runtime APIcast (OpenResty) uses; Lua 5.1 works too.
lua_args=()
if command -v luajit >/dev/null 2>&1; then
  lua_args=(--lua=luajit)
fi

status=0
found=0
for busted_config in "$here"/*/.busted; do
  [ -e "$busted_config" ] || continue
  found=1
  policy_dir="$(dirname "$busted_config")"
  echo "== $(basename "$policy_dir")"
  (cd "$policy_dir" && busted "${lua_args[@]}" "$@") || status=1
done

if [ "$found" -eq 0 ]; then
  echo "no policy specs found under $here" >&2
  exit 1
fi
exit "$status"
