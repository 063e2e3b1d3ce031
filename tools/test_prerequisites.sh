#!/usr/bin/env sh
# Installs what the test suite needs besides Deno when it is missing: redis-server, which the
# cluster tests start on ports of their own (never the machine's Redis). Run by `deno task test`.
set -eu
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  exit 0
fi
echo "redis-server is missing; installing it with apt-get (the cluster tests need it)..." >&2
if [ "$(id -u)" = "0" ]; then sudo=""; else sudo="sudo"; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "cannot install redis-server: no apt-get here; install Redis 7 yourself" >&2
  exit 1
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y redis-server >&2 ||
  { $sudo apt-get update >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y redis-server >&2; }
