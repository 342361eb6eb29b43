#!/usr/bin/env bash
# Install the peer IRC servers for `make bench` (InspIRCd, ngIRCd) from Debian's packages,
# and make sure the system services the packages ship are NOT running: the benchmark starts its
# own instances, on its own loopback ports, with its own config files, and stops them by PID.
#
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
command -v inspircd >/dev/null 2>&1 || [ -x /usr/sbin/inspircd ] || need+=(inspircd)
command -v ngircd >/dev/null 2>&1 || [ -x /usr/sbin/ngircd ] || need+=(ngircd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#need[@]}" -gt 0 ]; then
    echo "bench: installing ${need[*]}"
    # keep the packages' init scripts from starting system-wide daemons during the install
    policy=/usr/sbin/policy-rc.d
    restore=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        restore="yes"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
    if [ -n "$restore" ]; then $SUDO rm -f "$policy"; fi
fi

# Stop and disable any service instance the packages may have started anyway.
for svc in inspircd ngircd; do
    if command -v systemctl >/dev/null 2>&1; then
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
        else
            $SUDO systemctl disable "$svc" >/dev/null 2>&1 || true  # offline: unit links only
        fi
    fi
    if [ -x "/etc/init.d/$svc" ]; then
        $SUDO "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null 2>&1; then
            $SUDO update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
    fi
done

/usr/sbin/inspircd --version 2>/dev/null | head -1 || true
/usr/sbin/ngircd --version 2>/dev/null | head -1 || true
