#!/usr/bin/env bash
# go-installs the pinned Go tools the registry-free cluster needs, each into
# $RHDEMO_LAB_CACHE/bin/<name>-<version> (cached), with a stable <name> link for kind.
source "$(dirname "$0")/common.sh"

# go_install NAME PACKAGE@VERSION [LDFLAGS]: builds into the cache unless already there.
go_install() {
  local name="$1" spec="$2" version="${2##*@}" ldflags="${3:-}"
  local target="$CACHE_BIN/$name-$version"
  if [[ -x "$target" ]]; then log "$name $version: cached"; return 0; fi
  local gobin; gobin="$(mktemp -d /tmp/rhdemo-lab-gobin.XXXX)"
  log "go install $spec"
  CGO_ENABLED=0 GOBIN="$gobin" go install -trimpath -ldflags "-s -w $ldflags" "$spec"
  mv "$gobin"/* "$target"
  built "$name $version"
  rm -rf "$gobin"
}

# etcd's server module has relative replaces at the top level: build its main package
# from a throwaway module instead (etcdmain.Main is what the etcd binary runs).
build_etcd() {
  local target="$CACHE_BIN/etcd-$ETCD_VERSION"
  if [[ -x "$target" ]]; then log "etcd $ETCD_VERSION: cached"; return 0; fi
  local work; work="$(mktemp -d /tmp/rhdemo-lab-etcd.XXXX)"
  cat > "$work/go.mod" <<GOMOD
module rhdemo-lab.local/etcd-build
go 1.24
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat > "$work/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$target" .)
  built "etcd $ETCD_VERSION"
  rm -rf "$work"
}

go_install kind "sigs.k8s.io/kind@$KIND_VERSION"
ln -sfn "kind-$KIND_VERSION" "$CACHE_BIN/kind"
go_install coredns "github.com/coredns/coredns@$COREDNS_VERSION"
go_install local-path-provisioner "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
build_etcd
# crictl's version string is stamped by its Makefile; the same ldflag here.
go_install crictl "sigs.k8s.io/cri-tools/cmd/crictl@$CRI_TOOLS_VERSION" \
  "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION"
"$CACHE_BIN/kind" version
