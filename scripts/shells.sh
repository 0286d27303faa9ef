#!/usr/bin/env bash
# Test set-up for the CLI's completion scripts: zsh and fish, whose scripts test/cli-habits.test.ts
# loads into the real shells (bash is always there). Installs them from Debian where they are
# missing; prints YARD_SHELLS=1 when both are there; fails (exit 1, the reason on stderr) when they
# cannot be had, and the test then says loudly that their scripts are NOT tested.
set -uo pipefail
log() { echo "[shells] $*" >&2; }

missing=()
for shell in zsh fish; do command -v "$shell" >/dev/null 2>&1 || missing+=("$shell"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${missing[*]}, and cannot install them (need root and apt-get)"; exit 1
  fi
  log "installing ${missing[*]} from Debian"
  apt_log=/tmp/trainyard-shells-apt.log
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; then
    # The package lists may be missing or stale on a fresh machine.
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >"$apt_log" 2>&1 \
      || { log "apt-get failed: $(tail -n 3 "$apt_log")"; exit 1; }
  fi
fi
for shell in zsh fish; do command -v "$shell" >/dev/null 2>&1 || { log "$shell is still missing"; exit 1; }; done
echo YARD_SHELLS=1
