#!/usr/bin/env bash
# Installs the real Flyway command-line tool (Maven Central, no bundled JRE; Java 17 must be on PATH)
# into $RHDEMO_LAB_CACHE/flyway-cli/$FLYWAY_VERSION/ and prints the path of its `flyway` launcher.
# The same version as the registry-free Flyway image (FLYWAY_VERSION), checked against the same pinned
# SHA-256 (.ci/versions-images.env): Maven Central publishes no .sha1 for the 10.22.0 tarball.
# Idempotent: a complete install (marker file) is reused as is.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=../versions-images.env
source "$CI_DIR/versions-images.env"
: "${FLYWAY_COMMANDLINE_TAR_GZ_SHA256:?no SHA-256 pinned for the Flyway tarball in .ci/versions-images.env}"
dest="$RHDEMO_LAB_CACHE/flyway-cli/$FLYWAY_VERSION"
launcher="$dest/flyway-$FLYWAY_VERSION/flyway"

if [[ -f "$dest/.complete" && -x "$launcher" ]]; then
  echo "$launcher"
  exit 0
fi

command -v java >/dev/null || { log "java not found: Flyway $FLYWAY_VERSION needs Java 17+ on PATH"; exit 1; }

base="https://repo.maven.apache.org/maven2/org/flywaydb/flyway-commandline/$FLYWAY_VERSION"
archive="flyway-commandline-$FLYWAY_VERSION.tar.gz"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/flyway.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

log "downloading $archive from Maven Central"
curl -fsSL --retry 3 -o "$tmp/$archive" "$base/$archive"
if ! sha256sum --quiet --check <<<"$FLYWAY_COMMANDLINE_TAR_GZ_SHA256  $tmp/$archive"; then
  log "checksum mismatch for $archive (pinned SHA-256 $FLYWAY_COMMANDLINE_TAR_GZ_SHA256)"
  exit 1
fi

rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "$tmp/$archive" -C "$dest"
[[ -x "$launcher" ]] || { log "no launcher at $launcher after extraction"; exit 1; }
# Flyway 10 needs the PostgreSQL driver and the flyway-database-postgresql module: both ship in lib/.
ls "$dest/flyway-$FLYWAY_VERSION"/lib/flyway/flyway-database-postgresql-*.jar "$dest/flyway-$FLYWAY_VERSION"/drivers/postgresql-*.jar \
  >/dev/null 2>&1 || { log "the distribution lacks PostgreSQL support"; exit 1; }
touch "$dest/.complete"
log "Flyway $FLYWAY_VERSION installed in $dest"
echo "$launcher"
