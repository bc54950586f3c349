#!/usr/bin/env bash
# Builds the reference Spring Boot app (reference-app/, Maven Central only) into
# $RHDEMO_LAB_CACHE/reference-app/<key>/rhdemo-reference.jar and prints that path. The key is a hash of
# the app's sources and of the stub's migrations it bundles, so an unchanged app is never rebuilt; the
# local Maven repository lives in $RHDEMO_LAB_CACHE/m2, so a warm cache builds offline.
#   build-reference-app.sh          build if needed, print the jar path
#   build-reference-app.sh --path   print the jar path only (for exporting RHDEMO_REFERENCE_JAR)
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
repo="$(cd "$CI_DIR/.." && pwd)"
migrations="app-stub/src/rhdemo_stub/db/migration"

key="$(cd "$repo" && find reference-app "$migrations" -type f \( -name '*.java' -o -name '*.xml' \
         -o -name '*.yml' -o -name '*.properties' -o -name '*.sql' \) -not -path '*/target/*' -print0 \
       | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
dest="$RHDEMO_LAB_CACHE/reference-app/$key"
jar="$dest/rhdemo-reference.jar"

if [[ "${1:-}" == "--path" ]]; then
  echo "$jar"
  exit 0
fi
if [[ -f "$jar" && -f "$dest/.complete" ]]; then
  log "reference app $key already built"
  echo "$jar"
  exit 0
fi

# Maven and a JDK (install-system.sh installs a JRE only): Debian's packages, installed here when missing.
if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
  (( EUID == 0 )) || { log "mvn and javac needed: apt-get install maven openjdk-17-jdk-headless"; exit 1; }
  log "installing maven and openjdk-17-jdk-headless"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 \
    maven openjdk-17-jdk-headless || { apt-get update -q -o DPkg::Lock::Timeout=600 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 \
    maven openjdk-17-jdk-headless; }
fi
# Build from a copy (the pom reads the migrations at ../app-stub/...), so the checkout gets no target/.
work="$(mktemp -d "${TMPDIR:-/tmp}/reference-app.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/${migrations%/*}"
cp -r "$repo/reference-app" "$work/reference-app"
rm -rf "$work/reference-app/target"
cp -r "$repo/$migrations" "$work/$migrations"
maven=(mvn -B -q -Dmaven.repo.local="$RHDEMO_LAB_CACHE/m2" -DskipTests -f "$work/reference-app/pom.xml" package)
log "building the reference app ($key)"
# Offline first: a warm local repository needs no network; a cold one falls back to Maven Central.
if ! "${maven[@]}" -o >"$work/offline.log" 2>&1; then
  log "offline build failed (cold Maven cache?), building online"
  "${maven[@]}"
fi
mkdir -p "$dest"
cp "$work/reference-app/target/rhdemo-reference.jar" "$jar.tmp"
mv "$jar.tmp" "$jar"
touch "$dest/.complete"
log "reference app built: $jar"
echo "$jar"
