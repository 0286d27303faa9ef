#!/usr/bin/env bash
# Builds a small image from this machine's own files and imports it into the container engine, for
# machines that cannot pull: busybox (sh, id, hostname, awk... one link per applet) and this
# machine's node binary, each with the libraries ldd lists, plus any SRC:DEST files given.
#   local-image.sh NAME [SRC:DEST]...     env LOCAL_IMAGE_CMD: the image's CMD as JSON (default ["/bin/sh"])
# An image of that name whose label trainyard.content matches what it would hold is kept (a new
# node, busybox or file builds it again). Exit 1, the reason on stderr, when it cannot (no busybox,
# no engine). Used by `npm start` (the quick-start image) and the tests (scripts/container-engine.sh).
set -uo pipefail
NAME=${1:?usage: local-image.sh NAME [SRC:DEST]...}
shift
CMD=${LOCAL_IMAGE_CMD:-'["/bin/sh"]'}
STATE=${YARD_ENGINE_STATE:-/tmp/trainyard-engine}
log() { echo "[image] $*" >&2; }

BUSYBOX=$(command -v busybox) || { log "no busybox on this machine (Debian: apt-get install busybox-static)"; exit 1; }
BUSYBOX=$(readlink -f "$BUSYBOX")
NODE=$(readlink -f "$(command -v node)") || { log "no node on this machine"; exit 1; }

# What the image will hold, in one hash: the binaries, the files, their places, the CMD and this recipe.
# Contents only, never where they lie: every clone of the repository agrees on the image.
SUM=$( (for file in "$BUSYBOX" "$NODE" "${BASH_SOURCE[0]}"; do sha256sum <"$file"; done; echo "$CMD"; for pair in "$@"; do echo "${pair#*:}"; sha256sum <"${pair%%:*}"; done) | sha256sum | cut -c1-12)
if [ "$(docker image inspect -f '{{ index .Config.Labels "trainyard.content" }}' "$NAME" 2>/dev/null)" = "$SUM" ]; then exit 0; fi

mkdir -p "$STATE"
ROOT=$(mktemp -d "$STATE/image-rootfs.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
log "importing $NAME: busybox and node $("$NODE" --version) from this machine"
mkdir -p "$ROOT/bin" "$ROOT/etc" "$ROOT/tmp" "$ROOT/home"
chmod 1777 "$ROOT/tmp"
copy_with_libraries() {
  cp "$1" "$ROOT$2"
  for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
    mkdir -p "$ROOT$(dirname "$lib")" && cp -L "$lib" "$ROOT$lib"
  done
}
copy_with_libraries "$NODE" /bin/node
copy_with_libraries "$BUSYBOX" /bin/busybox
for applet in $("$ROOT/bin/busybox" --list); do
  # Not `busybox` itself (the link would replace the binary), nor what is there already (node).
  [ "$applet" = busybox ] || [ -e "$ROOT/bin/$applet" ] || ln -s busybox "$ROOT/bin/$applet"
done
for pair in "$@"; do
  mkdir -p "$ROOT$(dirname "${pair#*:}")" && cp "${pair%%:*}" "$ROOT${pair#*:}"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
tar -C "$ROOT" -c . | docker import -c "CMD $CMD" -c "LABEL trainyard.content=$SUM" - "$NAME" >/dev/null \
  || { log "docker import of $NAME failed"; exit 1; }
