#!/usr/bin/env bash
# Builds the registry-free image set from packages (Debian archive, Maven Central), tagged under
# $LOCAL_IMAGE_PREFIX:
#   debian    $LOCAL_DEBIAN_BASE_IMAGE   debootstrap minbase rootfs + docker import
#   python    $LOCAL_PYTHON_BASE_IMAGE   python3 + venv (base of the stub app)
#   postgres  $LOCAL_POSTGRES_IMAGE      Debian's PostgreSQL + images/postgres/docker-entrypoint.sh
#   jre       $LOCAL_JRE_IMAGE           OpenJDK 21 headless (base of flyway and keycloak)
#   flyway    $LOCAL_FLYWAY_IMAGE        flyway-commandline $FLYWAY_VERSION
#   keycloak  $LOCAL_KEYCLOAK_IMAGE      keycloak-quarkus-dist $KEYCLOAK_VERSION
#   app       localhost/rhdemo-lab/rhdemo-app:1.0 and :1.1 (only if app-stub/Dockerfile exists)
# usage: build-images.sh [--force] [IMAGE...]   (default: all, in the order above; an image's
# bases are always included)
# Cached: an image is skipped when its tag exists with the label $CACHE_LABEL equal to its cache
# key (pinned versions + hash of its build inputs in this repository + its base image's key).
# One TIMING line per image.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=../versions-images.env
source "$CI_DIR/versions-images.env"
# Failures inside $(...) must stop the build too.
shopt -s inherit_errexit

REPO_ROOT="$(cd "$CI_DIR/.." && pwd)"
IMAGES_DIR="$REPO_ROOT/images"
CACHE_LABEL=org.rhdemo-lab.cache-key
# Bump when the build logic in this file changes in a way the hashed inputs do not show.
RECIPE_VERSION=1
LOCAL_JRE_IMAGE="$LOCAL_IMAGE_PREFIX/jre:21-trixie"
LOCAL_APP_REPOSITORY="$LOCAL_IMAGE_PREFIX/rhdemo-app"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
MAVEN_CENTRAL="${MAVEN_CENTRAL:-https://repo.maven.apache.org/maven2}"
# CAs beyond the public set (e.g. a TLS-inspecting proxy's), PEM: by default the locally added
# ones (Debian's /usr/local/share/ca-certificates), not the whole system bundle (too big a build arg).
EXTRA_CA_FILE="${RHDEMO_LAB_EXTRA_CA_FILE:-}"
# Docker 26 without buildx: the classic builder (no BuildKit) is what is installed here.
export DOCKER_BUILDKIT=0

ALL_IMAGES=(debian python postgres jre flyway keycloak app)
force=false
build_one=""
selected=()
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    # internal: `phase` runs each image in its own process so that `set -e` holds inside it
    --build-one=*) build_one="${arg#--build-one=}" ;;
    -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    debian | python | postgres | jre | flyway | keycloak | app) selected+=("$arg") ;;
    *) log "unknown image '$arg' (known: ${ALL_IMAGES[*]})"; exit 2 ;;
  esac
done
((${#selected[@]})) || selected=("${ALL_IMAGES[@]}")

# Each image's base images come first (a cached base costs a second), in ALL_IMAGES order.
declare -A BASES=([debian]="" [python]="debian" [postgres]="debian" [jre]="debian"
                  [flyway]="debian jre" [keycloak]="debian jre" [app]="debian python")
declare -A wanted=() named=()
for image in "${selected[@]}"; do
  wanted[$image]=1 named[$image]=1
  for base in ${BASES[$image]}; do wanted[$base]=1; done
done
selected=()
for image in "${ALL_IMAGES[@]}"; do [[ -n "${wanted[$image]:-}" ]] && selected+=("$image"); done

# hash_inputs PATH...: one hash over the names and contents of the files under PATHs that git
# would track (committed or not, ignored files excluded), so stray caches do not bust the key.
hash_inputs() {
  local files
  files="$(cd "$REPO_ROOT" && git ls-files --cached --others --exclude-standard -- "$@" | sort -u)"
  [[ -n "$files" ]] || { log "no build inputs under: $*"; return 1; }
  (cd "$REPO_ROOT" && while IFS= read -r f; do
    [[ -f "$f" ]] || continue
    printf '%s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$f"
  done <<<"$files") | sha256sum | cut -c1-32
}

key_of() { printf '%s\n' "$@" | sha256sum | cut -c1-32; }

# image_has_key TAG KEY: the image exists and was built from exactly these inputs.
image_has_key() {
  local found
  found="$(docker image inspect --format "{{ index .Config.Labels \"$CACHE_LABEL\" }}" "$1" 2>/dev/null)" || return 1
  [[ "$found" == "$2" ]]
}

# Cache keys: a derived image's key includes its base image's key, so a new base rebuilds it.
DEBIAN_KEY="$(key_of "recipe=$RECIPE_VERSION" debian "suite=$DEBIAN_SUITE" "$(hash_inputs images/debian)")"
PYTHON_KEY="$(key_of "recipe=$RECIPE_VERSION" python "$DEBIAN_KEY" "$(hash_inputs images/python)")"
POSTGRES_KEY="$(key_of "recipe=$RECIPE_VERSION" postgres "$DEBIAN_KEY" "$(hash_inputs images/postgres)")"
JRE_KEY="$(key_of "recipe=$RECIPE_VERSION" jre "$DEBIAN_KEY" "$(hash_inputs images/jre)")"
FLYWAY_KEY="$(key_of "recipe=$RECIPE_VERSION" flyway "$JRE_KEY" "flyway=$FLYWAY_VERSION" "$FLYWAY_COMMANDLINE_TAR_GZ_SHA256" "$(hash_inputs images/flyway)")"
KEYCLOAK_KEY="$(key_of "recipe=$RECIPE_VERSION" keycloak "$JRE_KEY" "keycloak=$KEYCLOAK_VERSION" "$KEYCLOAK_DIST_ZIP_SHA256" "$(hash_inputs images/keycloak)")"

# maven_fetch GROUP_PATH ARTIFACT VERSION FILE_SUFFIX DEST_DIR SHA256: downloads once into the
# machine cache; checked against the pinned SHA-256 and, when Maven Central publishes one, its .sha1.
# Prints the file's path.
maven_fetch() {
  local group_path="$1" artifact="$2" version="$3" suffix="$4" dest="$5" sha256="$6"
  local file="$artifact-$version$suffix"
  local url="$MAVEN_CENTRAL/$group_path/$artifact/$version/$file"
  [[ -n "$sha256" ]] || { log "no SHA-256 pinned for $file in .ci/versions-images.env"; return 1; }
  mkdir -p "$dest"
  if [[ -f "$dest/$file" ]] && sha256sum --quiet --check <<<"$sha256  $dest/$file" >/dev/null 2>&1; then
    echo "$dest/$file"; return 0
  fi
  log "downloading $url"
  curl -fsSL --retry 3 -o "$dest/$file.part" "$url"
  local published_sha1
  if published_sha1="$(curl -fsSL --retry 3 "$url.sha1" 2>/dev/null)"; then
    published_sha1="$(tr -d ' \n' <<<"$published_sha1" | cut -c1-40)"
    if [[ "$(sha1sum "$dest/$file.part" | cut -d' ' -f1)" != "$published_sha1" ]]; then
      log "$file does not match the .sha1 Maven Central publishes ($published_sha1)"
      rm -f "$dest/$file.part"; return 1
    fi
  fi
  local actual
  actual="$(sha256sum "$dest/$file.part" | cut -d' ' -f1)"
  if [[ "$actual" != "$sha256" ]]; then
    log "$file: SHA-256 $actual, pinned $sha256"
    rm -f "$dest/$file.part"; return 1
  fi
  mv "$dest/$file.part" "$dest/$file"
  echo "$dest/$file"
}

# new_context NAME: a throwaway build context holding images/NAME/*.
new_context() {
  local context
  context="$(mktemp -d "/tmp/rhdemo-lab-image-$1.XXXXXX")"
  cp -a "$IMAGES_DIR/$1/." "$context/"
  echo "$context"
}

# docker_build TAG KEY CONTEXT [docker build args...]
docker_build() {
  local tag="$1" key="$2" context="$3"; shift 3
  docker build --pull=false --rm --force-rm \
    --label "$CACHE_LABEL=$key" --tag "$tag" "$@" "$context"
  rm -rf "$context"
  docker image inspect --format '{{.Size}}' "$tag" | awk -v t="$tag" '{printf "%s: %.0f MB\n", t, $1/1e6}'
}

# cached_or NAME TAG KEY FUNCTION: runs FUNCTION unless TAG already carries KEY.
cached_or() {
  local name="$1" tag="$2" key="$3" build="$4"
  if ! $force && image_has_key "$tag" "$key"; then
    log "$name: $tag is up to date (cache key $key)"
    return 0
  fi
  log "$name: building $tag (cache key $key)"
  "$build" "$tag" "$key"
  built "$tag"
}

build_debian() {
  local tag="$1" key="$2"
  local rootfs_dir="$RHDEMO_LAB_CACHE/rootfs"
  local tarball="$rootfs_dir/debian-$DEBIAN_SUITE-minbase-$key.tar.gz"
  mkdir -p "$rootfs_dir"
  if [[ ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null || { log "debootstrap is not installed"; return 1; }
    [[ -e "/usr/share/debootstrap/scripts/$DEBIAN_SUITE" ]] ||
      { log "this debootstrap does not know '$DEBIAN_SUITE' (install debootstrap/$DEBIAN_SUITE)"; return 1; }
    local work
    work="$(mktemp -d /tmp/rhdemo-lab-rootfs.XXXXXX)"
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$work/root" "$DEBIAN_MIRROR"
    "$IMAGES_DIR/debian/customize-rootfs.sh" "$work/root" "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR"
    tar --numeric-owner --xattrs --acls -C "$work/root" -cf - . | gzip -1 >"$tarball.part"
    mv "$tarball.part" "$tarball"
    # Older rootfs tarballs of this suite are dead weight once a new key exists.
    find "$rootfs_dir" -name "debian-$DEBIAN_SUITE-minbase-*.tar.gz" ! -name "$(basename "$tarball")" -delete
  fi
  docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL $CACHE_LABEL=$key" \
    "$tarball" "$tag"
}

build_python() {
  docker_build "$1" "$2" "$(new_context python)" --build-arg "BASE_IMAGE=$LOCAL_DEBIAN_BASE_IMAGE"
}

build_postgres() {
  docker_build "$1" "$2" "$(new_context postgres)" --build-arg "BASE_IMAGE=$LOCAL_DEBIAN_BASE_IMAGE"
}

build_jre() {
  docker_build "$1" "$2" "$(new_context jre)" --build-arg "BASE_IMAGE=$LOCAL_DEBIAN_BASE_IMAGE"
}

build_flyway() {
  local archive context
  archive="$(maven_fetch org/flywaydb flyway-commandline "$FLYWAY_VERSION" .tar.gz \
    "$RHDEMO_LAB_CACHE/flyway/$FLYWAY_VERSION" "$FLYWAY_COMMANDLINE_TAR_GZ_SHA256")"
  context="$(new_context flyway)"
  mkdir "$context/flyway"
  tar -xzf "$archive" -C "$context/flyway" --strip-components=1 --no-same-owner
  mkdir -p "$context/flyway/sql" "$context/flyway/conf"
  chmod -R a+rX,go-w "$context/flyway"
  chmod a+x "$context/flyway/flyway"
  docker_build "$1" "$2" "$context" --build-arg "BASE_IMAGE=$LOCAL_JRE_IMAGE" --build-arg "FLYWAY_VERSION=$FLYWAY_VERSION"
}

build_keycloak() {
  local archive context
  archive="$(maven_fetch org/keycloak keycloak-quarkus-dist "$KEYCLOAK_VERSION" .zip \
    "$RHDEMO_LAB_CACHE/keycloak/$KEYCLOAK_VERSION" "$KEYCLOAK_DIST_ZIP_SHA256")"
  context="$(new_context keycloak)"
  unzip -q "$archive" -d "$context/unpacked"
  mv "$context/unpacked/keycloak-$KEYCLOAK_VERSION" "$context/keycloak"
  rm -rf "$context/unpacked"
  mkdir -p "$context/keycloak/data"
  # Like the official image: the root group may write everywhere (arbitrary uid in group 0).
  chmod -R g+rwX "$context/keycloak"
  test -x "$context/keycloak/bin/kc.sh"
  docker_build "$1" "$2" "$context" --build-arg "BASE_IMAGE=$LOCAL_JRE_IMAGE" --build-arg "KEYCLOAK_VERSION=$KEYCLOAK_VERSION"
}

# The stub app, both releases, for the cluster smoke test (the lab builds its own content-hash tags).
build_app_release() {
  local tag="$1" key="$2" release="${1##*:}"
  # pip in the stub's build stage goes through the TLS-inspecting proxy: hand it the host's CA
  # bundle (public certificates; the stub's Dockerfile keeps it out of the final image).
  local ca_args=() extra_ca=""
  if [[ -n "$EXTRA_CA_FILE" ]]; then
    extra_ca="$(<"$EXTRA_CA_FILE")"
  elif compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    extra_ca="$(cat /usr/local/share/ca-certificates/*.crt)"
  fi
  [[ -n "$extra_ca" ]] && ca_args=(--build-arg "EXTRA_CA_CERT=$extra_ca")
  docker build --pull=false --rm --force-rm --label "$CACHE_LABEL=$key" --tag "$tag" \
    --build-arg "BASE_IMAGE=$LOCAL_PYTHON_BASE_IMAGE" --build-arg "APP_VERSION=$release" \
    "${ca_args[@]}" "$REPO_ROOT/app-stub"
}

build_app() {
  local release key
  for release in 1.0 1.1; do
    key="$(key_of "recipe=$RECIPE_VERSION" app "$PYTHON_KEY" "release=$release" "$(hash_inputs app-stub)")"
    cached_or "app $release" "$LOCAL_APP_REPOSITORY:$release" "$key" build_app_release
  done
}

phase_for() {
  case "$1" in
    debian) cached_or debian "$LOCAL_DEBIAN_BASE_IMAGE" "$DEBIAN_KEY" build_debian ;;
    python) cached_or python "$LOCAL_PYTHON_BASE_IMAGE" "$PYTHON_KEY" build_python ;;
    postgres) cached_or postgres "$LOCAL_POSTGRES_IMAGE" "$POSTGRES_KEY" build_postgres ;;
    jre) cached_or jre "$LOCAL_JRE_IMAGE" "$JRE_KEY" build_jre ;;
    flyway) cached_or flyway "$LOCAL_FLYWAY_IMAGE" "$FLYWAY_KEY" build_flyway ;;
    keycloak) cached_or keycloak "$LOCAL_KEYCLOAK_IMAGE" "$KEYCLOAK_KEY" build_keycloak ;;
    app) build_app ;;
  esac
}

if [[ -n "$build_one" ]]; then
  phase_for "$build_one"
  exit 0
fi

for image in "${selected[@]}"; do
  # --force rebuilds the images asked for, not the bases pulled in for them.
  forwarded=()
  $force && [[ -n "${named[$image]:-}" ]] && forwarded+=(--force)
  if [[ "$image" == app && ! -f "$REPO_ROOT/app-stub/Dockerfile" ]]; then
    log "app: app-stub/Dockerfile does not exist yet; stub images not built"
    continue
  fi
  phase "image $image" bash "${BASH_SOURCE[0]}" "${forwarded[@]}" "--build-one=$image"
done

# A rebuilt tag leaves its previous image dangling: drop those of ours (never anyone else's).
docker image prune --force --filter "label=$CACHE_LABEL" >/dev/null || true
