#!/usr/bin/env bash
# Turns a fresh `debootstrap --variant=minbase` tree into a container base:
# apt sources for the suite, no docs/man pages/translations, no recommends, no
# service starts during package installs, nothing host-specific left behind.
# usage: customize-rootfs.sh ROOTFS SUITE MIRROR SECURITY_MIRROR
set -euo pipefail
root="$1" suite="$2" mirror="$3" security_mirror="$4"

rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# Every image built on this base stays small: dpkg never unpacks these paths.
cat > "$root/etc/dpkg/dpkg.cfg.d/rhdemo-lab-minimal" <<'DPKG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/i18n/locales/*
path-exclude=/usr/share/i18n/charmaps/*
DPKG
cat > "$root/etc/apt/apt.conf.d/90rhdemo-lab" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT

# Package maintainer scripts must not try to start services inside a build.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

# Drop what debootstrap unpacked before the dpkg excludes existed.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
# Some maintainer scripts (OpenJDK's update-alternatives) link man pages into these directories.
for section in 1 2 3 4 5 6 7 8; do mkdir -p "$root/usr/share/man/man$section"; done
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old
rm -f "$root"/var/log/*.log "$root"/var/log/apt/* "$root/var/log/bootstrap.log"
find "$root/var/log" -type f -exec truncate -s 0 {} +
# Docker provides these at run time; the build host's values must not leak in.
: > "$root/etc/resolv.conf"
: > "$root/etc/hostname"
: > "$root/etc/machine-id"
