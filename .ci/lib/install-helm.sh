#!/usr/bin/env bash
# Builds the real helm CLIs pinned in .ci/versions.env (HELM3_VERSION, HELM4_VERSION) with `go install`
# (Go module proxy only, no release download) into $RHDEMO_LAB_CACHE/bin/helm-<version>, and links
# $RHDEMO_LAB_CACHE/bin/helm to the Helm 3 one. Idempotent: an existing binary that reports the pinned
# version is reused. Prints the colon-separated list of binaries (the HELM_BINARIES the tests read).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

: "${HELM3_VERSION:?HELM3_VERSION is not pinned in .ci/versions.env}"
: "${HELM4_VERSION:?HELM4_VERSION is not pinned in .ci/versions.env}"
command -v go >/dev/null || { log "go not found: building helm needs the Go toolchain on PATH"; exit 1; }

# install_helm VERSION: builds helm VERSION once; prints its path.
install_helm() {
  local version="$1" major module target tmp_bin
  major="${version%%.*}"            # v3 / v4: helm's module path carries the major version
  module="helm.sh/helm/${major}/cmd/helm"
  target="$CACHE_BIN/helm-$version"
  if [[ -x "$target" ]] && "$target" version --template '{{.Version}}' 2>/dev/null | grep -qx "$version"; then
    log "helm $version already built: $target"
    echo "$target"
    return 0
  fi
  # GOBIN trick: go install always names the binary `helm`; build into a private dir, then rename.
  tmp_bin="$(mktemp -d "${TMPDIR:-/tmp}/helm-$version.XXXXXX")"
  log "building helm $version (go install $module@$version)"
  # The version string is normally stamped by helm's Makefile; set it the same way so `helm version` is honest.
  GOBIN="$tmp_bin" CGO_ENABLED=0 go install -p 1 \
    -ldflags "-s -w -X helm.sh/helm/${major}/internal/version.version=$version" "$module@$version"
  mv -f "$tmp_bin/helm" "$target"
  rm -rf "$tmp_bin"
  "$target" version --template '{{.Version}}' | grep -qx "$version" \
    || { log "helm built from $module@$version does not report $version"; exit 1; }
  log "helm $version installed: $target"
  echo "$target"
}

helm3="$(install_helm "$HELM3_VERSION")"
helm4="$(install_helm "$HELM4_VERSION")"
ln -sfn "$(basename "$helm3")" "$CACHE_BIN/helm"
echo "$helm3:$helm4"
