#!/usr/bin/env bash
# Builds the Kubernetes components from the Go module proxy at KUBERNETES_VERSION.
# k8s.io/kubernetes replaces its staging modules with ./staging paths absent from the
# module zip, so we build from a throwaway module that pins each staging module to
# its published v0.<minor>.<patch> instead.
source "$(dirname "$0")/common.sh"

out="$RHDEMO_LAB_CACHE/kubernetes/$KUBERNETES_VERSION/bin"
components=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
# kubectl of the cluster's own version, first on CI's PATH (the machine's may be older).
link_kubectl() { ln -sfn "$out/kubectl" "$CACHE_BIN/kubectl"; "$CACHE_BIN/kubectl" version --client; }
if [[ -f "$out/.complete" ]]; then log "kubernetes $KUBERNETES_VERSION: cached in $out"; link_kubectl; exit 0; fi

work="$(mktemp -d /tmp/rhdemo-lab-k8sbuild.XXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" > dl.json
src="$(python3 -c 'import json,sys; print(json.load(open("dl.json"))["Dir"])')"
staging_version="v0.${KUBERNETES_VERSION#v1.}"
{
  echo "module rhdemo-lab.local/kubernetes-build"
  echo "go $(awk '/^go /{print $2; exit}' "$src/go.mod")"
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo "replace ("
  grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging/' "$src/go.mod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
cat > main.go <<'GO'
package main

func main() {}
GO
minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.gitTreeState=clean"
  ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
pkgs=()
for c in "${components[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
mkdir -p "$out"
log "building ${components[*]} $KUBERNETES_VERSION"
CGO_ENABLED=0 go build -p "$(nproc)" -trimpath -ldflags "$ldflags" -o "$out/" "${pkgs[@]}"
# pause is C, shipped inside the kubernetes module
gcc -Os -static -o "$out/pause" "$src/build/pause/linux/pause.c"
"$out/kubeadm" version -o short
touch "$out/.complete"
built "kubernetes $KUBERNETES_VERSION"
link_kubectl
