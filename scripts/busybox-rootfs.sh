#!/usr/bin/env bash
# Makes a minimal root file system from this machine's busybox (busybox-static) in DIR: bin/busybox,
# one link per applet (never the applet named busybox, or the binary is overwritten by a link to
# itself), /tmp 1777, /data, and root's passwd and group. The test images are made from it, since
# nothing can be pulled here: scripts/container-engine.sh (docker import) and scripts/slurm-cluster.sh
# (a tar that tests `podman import`).
#   busybox-rootfs.sh DIR
set -euo pipefail
root=${1:?usage: busybox-rootfs.sh DIR}
rm -rf "$root" && mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/data"
chmod 1777 "$root/tmp"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
