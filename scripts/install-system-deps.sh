#!/usr/bin/env bash
# Install the Debian packages the test suite needs (Debian 12 "bookworm"):
#   dovecot-imapd  a real IMAP server, started per test session from its own config
#   postfix        only for its smtp-sink / smtp-source tools; the daemon is never started
#   chromium       renders the HTML report and emails in tests; the browser tests drive it
#   npm            installs axe-core for the browser tests' accessibility checks
#   openssl        generates the throwaway test CA and server certificates
#
# Run as root (or with sudo available). Safe to run again: when everything is
# present it does nothing and needs no network. No service is left running,
# and it works in containers without systemd.
set -euo pipefail

PACKAGES=(dovecot-imapd postfix chromium openssl npm)

installed() {
    # npm may come with another Node.js build (e.g. NodeSource's nodejs, which
    # conflicts with Debian's npm package): any working npm will do.
    if [ "$1" = npm ] && command -v npm >/dev/null 2>&1; then
        return 0
    fi
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-system-deps: all present (${PACKAGES[*]})"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -- "$0" "$@"
    fi
    echo "install-system-deps: missing ${missing[*]}; run this script as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-system-deps: installing ${missing[*]}"

# Postfix: no configuration, so it never becomes this machine's MTA.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections

# Keep package scripts from starting daemons (Postfix, the system Dovecot):
# invoke-rc.d asks policy-rc.d, and exit status 101 means "do not start".
# Only install our own policy when the machine has none, and always remove it.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
fi
cleanup() {
    if [ "$own_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT

apt-get update -q
apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

for pkg in "${PACKAGES[@]}"; do
    if ! installed "$pkg"; then
        echo "install-system-deps: $pkg did not install" >&2
        exit 1
    fi
done
for tool in /usr/sbin/dovecot /usr/bin/doveadm /usr/sbin/smtp-sink /usr/sbin/smtp-source /usr/bin/openssl; do
    [ -x "$tool" ] || { echo "install-system-deps: $tool is missing after install" >&2; exit 1; }
done
echo "install-system-deps: done"
