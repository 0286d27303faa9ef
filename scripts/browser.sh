#!/usr/bin/env bash
# Test set-up for the web UI's browser tests: Debian's chromium (no browser download works here).
# Prints YARD_CHROMIUM=PATH on success; fails (exit 1, the reason on stderr) when none can be had.
set -uo pipefail
log() { echo "[browser] $*" >&2; }
# The browser tests run Chromium in a network namespace of its own (test/helpers/browser.ts), which
# needs `ip` (iproute2) to bring its loopback up; without it they run Chromium unisolated, and say so.
if ! command -v ip >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing iproute2 (ip), for the browser's own network namespace"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2) >/tmp/trainyard-iproute2-apt.log 2>&1 \
      || log "apt-get iproute2 failed: the browser tests will run Chromium without a network namespace of its own"
  else
    log "no ip (iproute2): the browser tests will run Chromium without a network namespace of its own"
  fi
fi
for candidate in "${YARD_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "YARD_CHROMIUM=$candidate"; exit 0; fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "no chromium, and cannot install one (need root and apt-get)"; exit 1
fi
log "installing chromium from Debian"
if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/tmp/trainyard-browser-apt.log 2>&1; then
  log "apt-get failed: $(tail -n 3 /tmp/trainyard-browser-apt.log)"; exit 1
fi
echo "YARD_CHROMIUM=/usr/bin/chromium"
