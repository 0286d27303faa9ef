#!/usr/bin/env bash
# Test set-up for the real-Jupyter test: a Debian image with the classic notebook server (Debian's
# jupyter-notebook 6.4, no JupyterLab) and python3-ipykernel, built here since nothing can be pulled:
# debootstrap --variant=minbase, then apt-get in the chroot, then `docker import`. About 4 minutes,
# once per machine: the image carries a label with the hash of this recipe, and a matching image is
# kept. Its WORKDIR is /, which no linked uid can write: the agent must start notebooks in HOME.
# Prints YARD_TEST_JUPYTER_IMAGE=NAME; fails (exit 1, the reason on stderr) when it cannot build it.
# Needs a container engine that answers (scripts/container-engine.sh up), root and apt-get.
set -uo pipefail
IMAGE=${YARD_JUPYTER_IMAGE_NAME:-trainyard/jupyter:test}
STATE=${YARD_ENGINE_STATE:-/tmp/trainyard-engine}
SUITE=bookworm
PACKAGES="jupyter-notebook python3-ipykernel"
mkdir -p "$STATE"
log() { echo "[jupyter-image] $*" >&2; }

# The recipe is this file: any change to it builds the image again.
SUM=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)

have_image() {
  [ "$(docker image inspect -f '{{ index .Config.Labels "trainyard.content" }}' "$IMAGE" 2>/dev/null)" = "$SUM" ]
}

mirror() {
  # The machine's own Debian mirror (deb822 or one-line sources), else Debian's.
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n 1)
  echo "${uri:-http://deb.debian.org/debian}"
}

build() {
  if ! timeout 10 docker version >/dev/null 2>&1; then log "no container engine answers (scripts/container-engine.sh up starts one)"; return 1; fi
  if have_image; then echo "YARD_TEST_JUPYTER_IMAGE=$IMAGE"; return 0; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then log "cannot build $IMAGE: needs root and apt-get (debootstrap)"; return 1; fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap from Debian"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap) >"$STATE/debootstrap-apt.log" 2>&1 \
      || { log "apt-get failed: $(tail -n 3 "$STATE/debootstrap-apt.log")"; return 1; }
  fi
  local root="$STATE/jupyter-rootfs" url; url=$(mirror)
  rm -rf "$root"
  log "building $IMAGE ($PACKAGES on Debian $SUITE from $url; about 4 minutes, once per machine)"
  log "  debootstrap --variant=minbase"
  debootstrap --variant=minbase "$SUITE" "$root" "$url" >"$STATE/debootstrap.log" 2>&1 \
    || { log "debootstrap failed: $(tail -n 5 "$STATE/debootstrap.log")"; return 1; }
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  mount -t proc proc "$root/proc" && trap 'umount "$root/proc" 2>/dev/null' RETURN
  log "  apt-get install $PACKAGES"
  # Snapshot mirrors serve Release files past their Valid-Until date.
  local apt=(apt-get -o Acquire::Check-Valid-Until=false -o Acquire::Check-Date=false -o Dpkg::Use-Pty=0)
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    sh -c "${apt[*]} update -qq && ${apt[*]} install -y -qq --no-install-recommends $PACKAGES && apt-get clean" \
    >"$STATE/jupyter-apt.log" 2>&1 || { log "apt-get in the chroot failed: $(tail -n 5 "$STATE/jupyter-apt.log")"; return 1; }
  umount "$root/proc"
  rm -rf "$root/var/lib/apt/lists"/* "$root/var/cache/apt"/*.bin "$root/etc/resolv.conf"
  log "  docker import"
  tar -C "$root" -c . | docker import -c "LABEL trainyard.content=$SUM" -c 'WORKDIR /' -c 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null \
    || { log "docker import failed"; return 1; }
  rm -rf "$root"
  have_image || { log "the imported $IMAGE does not carry its label"; return 1; }
  echo "YARD_TEST_JUPYTER_IMAGE=$IMAGE"
}

# One build at a time on this machine (npm test and a test run by hand share the engine).
exec 9>"$STATE/jupyter-image.lock"
flock 9
build
