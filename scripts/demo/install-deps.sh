#!/bin/sh
# Install what `make demo-video` needs and is missing: Debian packages (as root, or with sudo)
# and nothing else (the gui extra goes into .venv from the Makefile).
set -eu
DEBS="xvfb ffmpeg xterm tshark fonts-noto-color-emoji fonts-inter fonts-dejavu-core
 libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libegl1 libgl1 libfontconfig1 libdbus-1-3"
missing=""
for p in $DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "demo-video: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture: answer no (the demo runs it as root)
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing || {
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $missing
}
