#!/usr/bin/env bash
# Installs the real Flyway command-line tool (Maven Central, no bundled JRE; Java 17 must be on PATH)
# into $RHDEMO_LAB_CACHE/flyway/$FLYWAY_CLI_VERSION/ and prints the path of its `flyway` launcher.
# Idempotent: a complete install (marker file) is reused as is.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=../versions-stub.env
source "$CI_DIR/versions-stub.env"

# FLYWAY_VERSION (versions.env) names the Flyway image; the CLI pin may differ (see versions-stub.env).
FLYWAY_VERSION="${FLYWAY_CLI_VERSION:?FLYWAY_CLI_VERSION is not pinned in .ci/versions-stub.env}"
dest="$RHDEMO_LAB_CACHE/flyway/$FLYWAY_VERSION"
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
curl -fsSL --retry 3 -o "$tmp/$archive.sha1" "$base/$archive.sha1"
expected="$(tr -d ' \n' < "$tmp/$archive.sha1" | cut -c1-40)"
actual="$(sha1sum "$tmp/$archive" | cut -d' ' -f1)"
if [[ "$expected" != "$actual" ]]; then
  log "checksum mismatch for $archive: expected $expected, got $actual"
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
