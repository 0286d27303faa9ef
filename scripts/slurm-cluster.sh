#!/usr/bin/env bash
# Test set-up for the Slurm resource manager: a real single-node Slurm cluster on this machine.
#   up    install Debian's slurm-wlm, slurmrestd, slurm-wlm-jwt-plugin and munge if needed (root only),
#         then start munged, slurmctld, slurmd and slurmrestd from a state directory (about a second),
#         unless a cluster started there already answers; prints the environment for the tests on stdout
#   down  stop what `up` started, by the pids it recorded
# Fails (exit 1, the reason on stderr) when no cluster can be had; the tests then say so loudly.
#
# The traps (see /work/shared/design/deps.md, "Slurm for tests"), each handled below:
# - munged's socket directory must be 0755 ("Socket is inaccessible" otherwise);
# - slurmrestd refuses to run as root: it runs as the unprivileged `slurm` user (else `nobody`);
# - SLURM_JWT must never be left set for scontrol/sbatch (they then fail): only slurmrestd gets it;
# - a job for a user the node does not know loops PENDING: that check is the client's, not Slurm's;
# - finished jobs stay visible for MinJobAge seconds (300 here) and then 404 through the API.
# The node has a fake GPU (gres.conf File=/dev/null), 8 CPUs and 4000 MB whatever the machine has
# (SlurmdParameters=config_overrides: the test jobs mostly sleep, so test files share it without
# waiting), and a second partition capped at one CPU on it, which a test fills to see Slurm's
# pending reasons without holding up anyone else's jobs.
set -uo pipefail
STATE=${YARD_SLURM_STATE:-/tmp/trainyard-slurm}
PARTITION=trainyard
SMALL_PARTITION=trainyard-small
log() { echo "[slurm] $*" >&2; }
fail() { log "$*"; exit 1; }

# podman, uidmap (newuidmap for rootless user namespaces), fuse-overlayfs, slirp4netns and runc: jobs
# of pools with `container: podman`; busybox-static: the small image those tests run.
PACKAGES=(slurm-wlm slurmrestd slurm-wlm-jwt-plugin munge podman uidmap fuse-overlayfs slirp4netns runc busybox-static)

install_packages() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "missing ${missing[*]}, and cannot install them (need root and apt-get)"
  fi
  log "installing ${missing[*]} from Debian (about 40 s)"
  # No service of the packages may start on its own (this script starts its own, from $STATE).
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >"$STATE/apt.log" 2>&1
  local status=$?
  [ -n "$made_policy" ] && rm -f "$policy"
  [ $status = 0 ] || fail "apt-get failed: $(tail -n 3 "$STATE/apt.log")"
}

# Whether the pid in FILE is still our DAEMON of this state directory: the program's name, and the
# state directory in its command line or environment. A pid file outlives its process, and a
# busy machine hands its pid to someone else: never signal that one.
ours() {
  local file=$1 daemon=$2 pid
  [ -f "$file" ] && pid=$(cat "$file") && [ -n "$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$daemon" ] || return 1
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "$STATE" && return 0
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qx "SLURM_CONF=$STATE/slurm.conf"
}

# Scheduler commands read only $STATE/slurm.conf, and never with SLURM_JWT set.
slurm() { env -u SLURM_JWT SLURM_CONF="$STATE/slurm.conf" "$@"; }

node_state() { slurm timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1; }

rest_answers() {
  local port; port=$(cat "$STATE/rest.port" 2>/dev/null) || return 1
  # 401 without a token: slurmrestd is there and checks JWTs.
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/slurm/v0.0.38/ping")" = 401 ]
}

# All four daemons alive, the node usable (idle, or running jobs), slurmrestd answering.
running() {
  ours "$STATE/munged.pid" munged && ours "$STATE/slurmctld.pid" slurmctld && ours "$STATE/slurmd.pid" slurmd && ours "$STATE/slurmrestd.pid" slurmrestd \
    && [[ "$(node_state)" =~ ^(idle|mixed|allocated|completing)$ ]] && rest_answers
}

print_env() {
  echo "YARD_TEST_SLURM_REST_URL=http://127.0.0.1:$(cat "$STATE/rest.port")"
  echo "YARD_TEST_SLURM_JWT_KEY_FILE=$STATE/jwt.key"
  echo "YARD_TEST_SLURM_PARTITION=$PARTITION"
  echo "YARD_TEST_SLURM_SMALL_PARTITION=$SMALL_PARTITION"
  echo "YARD_TEST_SLURM_CONF=$STATE/slurm.conf"
  echo "YARD_TEST_SLURM_NODE=$NODE"
  [ -f "$STATE/busybox-rootfs.tar" ] && echo "YARD_TEST_SLURM_IMAGE_TAR=$STATE/busybox-rootfs.tar"
}

# A busybox root file system as a tar, for tests to `podman import` into a user's storage (nothing can be pulled here).
busybox_tar() {
  local root="$STATE/busybox-rootfs"
  [ -f "$STATE/busybox-rootfs.tar" ] && return 0
  command -v busybox >/dev/null 2>&1 || { log "no busybox: the podman tests will not run"; return 0; }
  bash "$(dirname "${BASH_SOURCE[0]}")/busybox-rootfs.sh" "$root" || { log "could not make a busybox root file system: the podman tests will not run"; return 0; }
  tar -C "$root" -cf "$STATE/busybox-rootfs.tar" . && chmod 0644 "$STATE/busybox-rootfs.tar"
  rm -rf "$root"
}

# A port nothing listens on (a race with other programs is possible, and then slurm fails loudly).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return 0; }
  done
  return 1
}

# The unprivileged user slurmrestd runs as: Debian's `slurm` (made by its packages), else `nobody`.
rest_user() { if getent passwd slurm >/dev/null; then echo slurm; else echo nobody; fi; }

write_config() {
  local ctld_port slurmd_port
  ctld_port=$(free_port) && slurmd_port=$(free_port) || fail "no free port for slurmctld/slurmd"
  cat >"$STATE/slurm.conf" <<EOF
# A single-node test cluster made by scripts/slurm-cluster.sh; everything lives in $STATE.
ClusterName=trainyard
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket
CredType=cred/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$STATE/jwt.key
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job waiting for Resources in the small partition keeps the main scheduler off the node for lower
# priority jobs of the other partition too; backfill starts them, every second rather than every 30.
SchedulerParameters=bf_interval=1
ReturnToService=2
# Finished jobs stay visible through the API this long (seconds), then answer "invalid job id".
MinJobAge=300
# Seconds between SIGTERM and SIGKILL when Slurm ends a job (scancel, time limit).
KillWait=10
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=8 RealMemory=4000 Gres=gpu:1 State=UNKNOWN
# Memory is allocated (CR_Core_Memory): a job that asks for none gets 100 MB per core, not the whole node.
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=100
PartitionName=$SMALL_PARTITION Nodes=$NODE MaxCPUsPerNode=1 MaxTime=INFINITE State=UP DefMemPerCPU=100
# One small partition per test file that fills one (test files run at once: one's filler must not hold another's jobs).
PartitionName=$SMALL_PARTITION-crash Nodes=$NODE MaxCPUsPerNode=1 MaxTime=INFINITE State=UP DefMemPerCPU=100
PartitionName=$SMALL_PARTITION-pool Nodes=$NODE MaxCPUsPerNode=1 MaxTime=INFINITE State=UP DefMemPerCPU=100
EOF
  cat >"$STATE/gres.conf" <<EOF
# A fake GPU: a job asking gpu:1 gets CUDA_VISIBLE_DEVICES=0 (a bare Count=1 leaves the node INVAL).
NodeName=$NODE Name=gpu File=/dev/null
EOF
}

start_munge() {
  mkdir -p "$STATE/munge"
  chown munge: "$STATE/munge" && chmod 0755 "$STATE/munge"
  [ -f "$STATE/munge/munge.key" ] || runuser -u munge -- mungekey --create --keyfile="$STATE/munge/munge.key" >/dev/null 2>&1 \
    || fail "mungekey could not make a key"
  runuser -u munge -- munged --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket" \
    --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/munged.seed" \
    || fail "munged did not start: $(tail -n 3 "$STATE/munge/munged.log" 2>/dev/null)"
  for _ in $(seq 1 50); do [ -S "$STATE/munge/munge.socket" ] && break; sleep 0.1; done
  cp "$STATE/munge/munged.pid" "$STATE/munged.pid"
}

start_rest() {
  local port user
  port=$(free_port) || fail "no free port for slurmrestd"
  user=$(rest_user)
  echo "$port" >"$STATE/rest.port"
  # SLURM_JWT=daemon: slurmrestd takes each request's token and passes it on; only it has the variable.
  # setpriv execs (runuser would stay as its parent): the pid recorded is slurmrestd's own.
  nohup setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups env SLURM_CONF="$STATE/slurm.conf" SLURM_JWT=daemon \
    slurmrestd -a rest_auth/jwt -s openapi/v0.0.38 "127.0.0.1:$port" >"$STATE/slurmrestd.log" 2>&1 &
  echo $! >"$STATE/slurmrestd.pid"
  for _ in $(seq 1 100); do rest_answers && return 0; ours "$STATE/slurmrestd.pid" slurmrestd || break; sleep 0.1; done
  fail "slurmrestd (as $user) does not answer on 127.0.0.1:$port: $(tail -n 5 "$STATE/slurmrestd.log")"
}

up() {
  mkdir -p "$STATE" && chmod 0755 "$STATE"
  NODE=$(hostname -s)
  if running; then
    # A cluster from an earlier run: what the tests need besides it is still made sure of.
    [ "$(id -u)" = 0 ] && install_packages
    busybox_tar
    print_env
    return 0
  fi
  [ "$(id -u)" = 0 ] || fail "starting a Slurm cluster needs root (slurmd runs jobs as their users)"
  install_packages
  for tool in munged mungekey slurmctld slurmd slurmrestd sinfo curl runuser setpriv; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing after the install"
  done
  [ -f /usr/lib/x86_64-linux-gnu/slurm-wlm/auth_jwt.so ] || ls /usr/lib/*/slurm-wlm/auth_jwt.so >/dev/null 2>&1 \
    || fail "Slurm's JWT plugin (slurm-wlm-jwt-plugin) is missing"
  down 2>/dev/null
  rm -rf "$STATE/ctld" "$STATE/slurmd" && mkdir -p "$STATE/ctld" "$STATE/slurmd"
  [ -f "$STATE/jwt.key" ] || (umask 077 && head -c 32 /dev/urandom >"$STATE/jwt.key")
  chmod 0600 "$STATE/jwt.key"
  write_config
  start_munge
  slurm slurmctld -i >>"$STATE/slurmctld.out" 2>&1 || fail "slurmctld did not start: $(tail -n 5 "$STATE/slurmctld.log")"
  slurm slurmd >>"$STATE/slurmd.out" 2>&1 || fail "slurmd did not start: $(tail -n 5 "$STATE/slurmd.log")"
  local state=
  for _ in $(seq 1 100); do
    state=$(node_state)
    [ "$state" = idle ] && break
    sleep 0.1
  done
  [ "$state" = idle ] || fail "the node is '${state:-unknown}', not idle, after 10 s: $(tail -n 5 "$STATE/slurmctld.log")"
  start_rest
  busybox_tar
  log "a single-node Slurm cluster runs from $STATE (partition $PARTITION, node $NODE)"
  print_env
}

# Stops DAEMON by the pid in FILE, if that pid is still ours (see `ours`): SIGTERM, SIGKILL after 5 s.
stop_pid() {
  local file=$1 daemon=$2 pid
  if ours "$file" "$daemon"; then
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do ours "$file" "$daemon" || break; sleep 0.1; done
    ours "$file" "$daemon" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

down() {
  stop_pid "$STATE/slurmrestd.pid" slurmrestd
  stop_pid "$STATE/slurmd.pid" slurmd
  stop_pid "$STATE/slurmctld.pid" slurmctld
  stop_pid "$STATE/munged.pid" munged
  rm -f "$STATE/munge/munged.pid"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
