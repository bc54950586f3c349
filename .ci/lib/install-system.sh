#!/usr/bin/env bash
# System packages from Debian's archive. Docker comes from trixie: bookworm's 20.10 grants
# privileged containers every capability, including CAP_SYS_RESOURCE that these machines
# lack, so kind's nodes cannot start; trixie's 26.1 clamps to what the host has.
source "$(dirname "$0")/common.sh"

sources=/etc/apt/sources.list.d/rhdemo-lab-newer.sources
if [[ ! -f "$sources" ]]; then
  cat > "$sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  # Newer suites only when asked for by name (pkg/trixie), never as an upgrade.
  cat > /etc/apt/preferences.d/rhdemo-lab-pin <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: *
Pin: release n=sid
Pin-Priority: 50
PIN
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "$@"; }
wanted=(docker.io containerd debootstrap postgresql jq dash curl unzip gzip shellcheck ca-certificates openjdk-17-jre-headless procps)
missing=()
for p in "${wanted[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
docker_version="$(dpkg-query -W -f '${Version}' docker.io 2>/dev/null || true)"
if (( ${#missing[@]} )) || [[ "$docker_version" != 2[6-9].* ]]; then
  apt-get update -q -o DPkg::Lock::Timeout=600
  apt_install docker.io/trixie containerd/trixie docker-cli/trixie
  apt_install debootstrap postgresql jq dash curl unzip gzip shellcheck ca-certificates openjdk-17-jre-headless procps
fi
dockerd --version
