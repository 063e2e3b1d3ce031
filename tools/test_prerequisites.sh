#!/usr/bin/env sh
# Installs what the test suite needs besides Deno when it is missing: redis-server and
# redis-sentinel, which the cluster tests start on ports of their own (never the machine's Redis);
# Debian's chromium, which the browser tests drive with playwright-core; and the clients the docs
# name, curl and python3-websocket's wsdump, which run the README's commands as written.
# Run by `deno task test` and `.ci/run`.
set -eu
missing=""
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  missing="redis-server"
fi
command -v redis-sentinel >/dev/null 2>&1 || missing="$missing redis-sentinel"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v wsdump >/dev/null 2>&1 || missing="$missing python3-websocket"
# BOREAS_TEST_CHROMIUM may name another Chromium-based browser for the tests to drive.
if [ ! -x "${BOREAS_TEST_CHROMIUM:-/usr/bin/chromium}" ]; then
  missing="$missing chromium"
fi
[ -z "$missing" ] && exit 0
echo "missing:$missing; installing with apt-get (the test suite needs them)..." >&2
if [ "$(id -u)" = "0" ]; then sudo=""; else sudo="sudo"; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "cannot install$missing: no apt-get here; install Redis 7 and Chromium yourself" >&2
  exit 1
fi
# shellcheck disable=SC2086 # $missing is a list of package names
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y $missing >&2 ||
  { $sudo apt-get update >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y $missing >&2; }
