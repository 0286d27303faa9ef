#!/usr/bin/env bash
# Test set-up for the Docker executor: makes a Docker engine answer on this machine and puts a
# small local image in it (nothing can be pulled here).
#   up    install Debian's docker.io and busybox-static if needed (root only), start dockerd if none
#         answers, import trainyard/busybox:test; prints the environment for the tests on stdout
#   down  stop the dockerd that `up` started, if any
# Fails (exit 1, the reason on stderr) when no engine can be had; the tests then say so loudly.
set -uo pipefail
STATE=${YARD_ENGINE_STATE:-/tmp/trainyard-engine}
IMAGE=trainyard/busybox:test
WEB_IMAGE=trainyard/web-service:test
mkdir -p "$STATE"
log() { echo "[engine] $*" >&2; }

answers() { timeout 10 docker version >/dev/null 2>&1; }

up() {
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      log "no docker engine, and cannot install one (need root and apt-get)"; return 1
    fi
    log "installing docker.io and busybox-static from Debian"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static) >"$STATE/apt.log" 2>&1 \
      || { log "apt-get failed: $(tail -n 3 "$STATE/apt.log")"; return 1; }
  fi
  if ! answers; then
    log "starting dockerd"
    nohup dockerd >"$STATE/dockerd.log" 2>&1 &
    echo $! >"$STATE/dockerd.pid"
    for _ in $(seq 1 60); do answers && break; sleep 1; done
    answers || { log "dockerd did not answer in 60 s: $(tail -n 5 "$STATE/dockerd.log")"; return 1; }
  fi
  if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "importing $IMAGE from busybox-static"
    local root="$STATE/rootfs"
    bash "$(dirname "${BASH_SOURCE[0]}")/busybox-rootfs.sh" "$root" || { log "could not make a busybox root file system"; return 1; }
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null || { log "docker import failed"; return 1; }
  fi
  echo "YARD_TEST_IMAGE=$IMAGE"
  if web_image; then echo "YARD_TEST_WEB_IMAGE=$WEB_IMAGE"; else log "no $WEB_IMAGE: the proxy tests run on the process executor only"; fi
}

# The proxy tests' service (test/fixtures/web-service/server.mjs): this machine's node binary and the
# libraries ldd lists, busybox for a shell, and the script, imported as an image (nothing can be pulled).
web_image() {
  local here; here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  local script="$here/test/fixtures/web-service/server.mjs"
  local sum; sum=$( (cat "$script"; node --version) | sha256sum | cut -c1-12)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "trainyard.content" }}' "$WEB_IMAGE" 2>/dev/null)" = "$sum" ]; then return 0; fi
  log "importing $WEB_IMAGE (node $(node --version) and the test service)"
  local root="$STATE/web-rootfs" node; node=$(readlink -f "$(command -v node)")
  rm -rf "$root" && mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/srv"
  chmod 1777 "$root/tmp"
  cp "$node" "$root/bin/node"
  for lib in $(ldd "$node" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
  done
  cp "$(command -v busybox)" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || [ -e "$root/bin/$applet" ] || ln -sf busybox "$root/bin/$applet"
  done
  cp "$script" "$root/srv/server.mjs"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/node", "/srv/server.mjs"]' -c "LABEL trainyard.content=$sum" - "$WEB_IMAGE" >/dev/null \
    || { log "docker import of $WEB_IMAGE failed"; return 1; }
}

down() {
  if [ -f "$STATE/dockerd.pid" ]; then
    local pid; pid=$(cat "$STATE/dockerd.pid")
    kill "$pid" 2>/dev/null && for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    rm -f "$STATE/dockerd.pid"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
