#!/usr/bin/env bash
# Test set-up for the authentication backends: installs what their tests start themselves.
#   slapd          Debian's OpenLDAP server (each LDAP test file runs its own on 127.0.0.1 from a temp dir)
#   libpam-pwdfile a PAM module backed by a throwaway password file (no system accounts needed)
#   libpam0g-dev   PAM's headers: the optional PAM binding (node-linux-pam) compiles against them, so
#                  `npm test` runs this BEFORE the install
#   apache2-utils  htpasswd, which writes the password-file tests' files
#   openssl        writes the crypt hashes pam_pwdfile reads
# Never leaves a system directory running or configured: slapd's package is told not to configure
# one, and no service starts during the install. Prints YARD_AUTH_SERVERS=1 when everything is
# there; fails (exit 1, the reason on stderr) when it cannot be had; the tests then say so loudly.
set -uo pipefail
log() { echo "[auth-servers] $*" >&2; }

PACKAGES=(slapd libpam-pwdfile libpam0g-dev apache2-utils openssl)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${missing[*]}, and cannot install them (need root and apt-get)"; exit 1
  fi
  log "installing ${missing[*]} from Debian"
  # No system directory: slapd's package skips its own configuration, and nothing starts.
  echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections 2>/dev/null
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  apt_log=/tmp/trainyard-auth-servers-apt.log
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >"$apt_log" 2>&1
  status=$?
  [ -n "$made_policy" ] && rm -f "$policy"
  [ $status = 0 ] || { log "apt-get failed: $(tail -n 3 "$apt_log")"; exit 1; }
fi

for file in /usr/sbin/slapd /usr/sbin/slapadd /usr/bin/htpasswd /usr/include/security/pam_appl.h; do
  [ -e "$file" ] || { log "$file is missing after the install"; exit 1; }
done
echo "YARD_AUTH_SERVERS=1"
