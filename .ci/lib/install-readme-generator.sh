#!/usr/bin/env bash
# Installs Bitnami's readme-generator-for-helm (npm, README_GENERATOR_VERSION in .ci/versions.env, every
# dependency pinned by .ci/readme-generator/package-lock.json) into
# $RHDEMO_LAB_CACHE/npm/readme-generator@<version>/ with `npm ci`, and prints the path of its
# `readme-generator` launcher. It generates chart/rhdemo/README.md's parameter table and
# values.schema.json from the `## @param` lines of values.yaml (tests/integration/chart/test_chart_docs.py).
# Idempotent: an install made from the same lock file that reports the pinned version is reused as is.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

: "${README_GENERATOR_VERSION:?README_GENERATOR_VERSION is not pinned in .ci/versions.env}"
spec="$CI_DIR/readme-generator"
grep -q "\"@bitnami/readme-generator-for-helm\": \"$README_GENERATOR_VERSION\"" "$spec/package.json" \
  || { log "$spec/package.json does not pin readme-generator-for-helm $README_GENERATOR_VERSION"; exit 1; }
dest="$RHDEMO_LAB_CACHE/npm/readme-generator@$README_GENERATOR_VERSION"
launcher="$dest/node_modules/.bin/readme-generator"

installed() {
  [[ -x "$launcher" ]] && cmp -s "$spec/package-lock.json" "$dest/package-lock.json" \
    && "$launcher" --version 2>/dev/null | grep -qx "Version: $README_GENERATOR_VERSION"
}
if installed; then
  log "readme-generator $README_GENERATOR_VERSION already installed: $launcher"
  echo "$launcher"
  exit 0
fi

if ! command -v npm >/dev/null; then
  log "npm not found: installing Debian's nodejs and npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 nodejs npm >&2
fi

# Installed next to its final place, then swapped in: an interrupted install never looks complete.
mkdir -p "$RHDEMO_LAB_CACHE/npm"
tmp="$(mktemp -d "$dest.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cp "$spec/package.json" "$spec/package-lock.json" "$tmp/"
log "npm ci readme-generator-for-helm $README_GENERATOR_VERSION"
npm_config_cache="$RHDEMO_LAB_CACHE/npm/cache" npm ci --prefix "$tmp" --no-audit --no-fund --ignore-scripts >&2
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
installed || { log "readme-generator at $launcher does not report $README_GENERATOR_VERSION"; exit 1; }
log "readme-generator $README_GENERATOR_VERSION installed: $launcher"
echo "$launcher"
