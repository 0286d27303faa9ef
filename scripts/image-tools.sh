#!/usr/bin/env bash
# Test set-up for the image tests (test/images.test.ts): Debian's `docker-registry` (the distribution
# registry, which the tests start themselves on 127.0.0.1 from a temp dir, so that `yard image pull`
# really pulls) and `bindfs` (a FUSE mount the mount-probing test stops, to make a mount that hangs).
# Installs what is missing with apt-get (root only) and prints where they are for the tests on stdout.
# Fails (exit 1, the reason on stderr) when neither can be had; the tests then say so loudly.
set -uo pipefail
log() { echo "[image-tools] $*" >&2; }
STATE=${YARD_IMAGE_TOOLS_STATE:-/tmp/trainyard-image-tools}
mkdir -p "$STATE"

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v bindfs >/dev/null 2>&1 || missing+=(bindfs)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${missing[*]}, and cannot install (need root and apt-get)"
  else
    log "installing ${missing[*]} from Debian"
    # RUNLEVEL=1: invoke-rc.d then starts no registry of the package's own on :5000 (the tests start theirs).
    (apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >"$STATE/apt.log" 2>&1 \
      || log "apt-get failed: $(tail -n 3 "$STATE/apt.log")"
  fi
fi
found=0
if command -v docker-registry >/dev/null 2>&1; then echo "YARD_TEST_REGISTRY=$(command -v docker-registry)"; found=1; else log "no docker-registry: the pull tests will NOT run"; fi
if command -v bindfs >/dev/null 2>&1 && [ -e /dev/fuse ]; then echo "YARD_TEST_BINDFS=$(command -v bindfs)"; found=1; else log "no bindfs (or no /dev/fuse): the hung-mount test will NOT run"; fi
[ "$found" = 1 ]
