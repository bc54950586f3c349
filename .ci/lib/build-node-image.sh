#!/usr/bin/env bash
# Assembles a kind node image without any registry:
#   1. a trixie rootfs (debootstrap) with systemd, containerd, runc, CNI plugins + kind's
#      base-image files read from the kind Go module (not copied into this repository);
#   2. the Kubernetes binaries built by build-kubernetes.sh, crictl and the Go tools;
#   3. every image kubeadm and kind need, made locally (single binaries need no base) and
#      imported into the node's containerd, pinned — exactly what `kind build node-image`
#      would otherwise pull.
# Result: $NODE_IMAGE, reused while its cache key (versions + these inputs) is unchanged.
source "$(dirname "$0")/common.sh"

NODE_IMAGE="${NODE_IMAGE:-$LOCAL_IMAGE_PREFIX/kind-node:$KUBERNETES_VERSION}"
K8S_BIN="$RHDEMO_LAB_CACHE/kubernetes/$KUBERNETES_VERSION/bin"
ROOTFS_DIR="$RHDEMO_LAB_CACHE/rootfs"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_PACKAGES="systemd,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins"
TOOLS_PACKAGES="iptables,nftables,conntrack,kmod"

cache_key="$(cat "$CI_DIR/versions.env" "$0" "$CI_DIR"/node/* | sha256sum | cut -c1-16)"
if [[ "$(docker image inspect -f '{{ index .Config.Labels "rhdemo-lab.cache-key" }}' "$NODE_IMAGE" 2>/dev/null)" == "$cache_key" ]]; then
  log "node image $NODE_IMAGE: cached (key $cache_key)"; exit 0
fi
kind_dir="$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"

work="$(mktemp -d /tmp/rhdemo-lab-node.XXXX)"
cleanup() { docker rm -f "rhdemo-lab-node-build-$$" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# debootstrap_tar NAME PACKAGES: a cached minbase trixie rootfs tarball with PACKAGES.
debootstrap_tar() {
  local name="$1" packages="$2"
  local key; key="$(echo "$DEBIAN_SUITE $packages" | sha256sum | cut -c1-12)"
  local tarball="$ROOTFS_DIR/$name-$DEBIAN_SUITE-$key.tar"
  if [[ ! -f "$tarball" ]]; then
    mkdir -p "$ROOTFS_DIR"
    local dir="$work/debootstrap-$name"
    log "debootstrap $name ($DEBIAN_SUITE: $packages)"
    debootstrap --variant=minbase --include="$packages" "$DEBIAN_SUITE" "$dir" "$MIRROR" >&2
    chroot "$dir" apt-get clean
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
    tar -C "$dir" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
  fi
  echo "$tarball"
}

# ---- 1. the node's root filesystem ------------------------------------------------
node_tar="$(debootstrap_tar kind-node "$NODE_PACKAGES")"
tools_tar="$(debootstrap_tar node-tools "$TOOLS_PACKAGES")"
for b in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy pause; do
  [[ -x "$K8S_BIN/$b" ]] || { echo "missing $K8S_BIN/$b: run build-kubernetes.sh first" >&2; exit 1; }
done
root="$work/node"; mkdir -p "$root"; tar -C "$root" -xf "$node_tar"
files="$kind_dir/images/base/files"
install -m 0755 "$files"/usr/local/bin/* "$root/usr/local/bin/"
mkdir -p "$root/kind" && cp -r "$files/kind/." "$root/kind/" && chmod 0755 "$root/kind" "$root/kind/bin" "$root"/kind/bin/*
install -m 0644 "$files"/etc/crictl.yaml "$root/etc/"
install -D -m 0644 "$files"/etc/containerd/config.toml "$root/etc/containerd/config.toml"
install -m 0644 "$files"/etc/default/* "$root/etc/default/"
install -m 0644 "$files"/etc/sysctl.d/* "$root/etc/sysctl.d/"
install -m 0644 "$files"/etc/systemd/system/*.service "$files"/etc/systemd/system/*.slice "$root/etc/systemd/system/"
install -D -m 0644 -t "$root/etc/systemd/system/kubelet.service.d/" "$files"/etc/systemd/system/kubelet.service.d/*
# These machines lack CAP_SYS_RESOURCE: kubelet's negative OOM scores must be clamped
# (kind's entrypoint only does this for user namespaces).
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$root/etc/containerd/config.toml"
grep -q 'restrict_oom_score_adj = true' "$root/etc/containerd/config.toml"
# What kind's base Dockerfile does after installing packages.
find "$root/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
      "$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
      "$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >> "$root/etc/systemd/journald.conf"
ln -sfn /usr/lib/systemd/systemd "$root/sbin/init"
chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >&2
chroot "$root" systemctl mask systemd-binfmt.service >&2
mkdir -p "$root/etc/kubernetes/manifests"
# Debian installs containerd in /usr/bin and CNI plugins in /usr/lib/cni; kind expects /usr/local/bin and /opt/cni/bin.
ln -sfn /usr/bin/containerd "$root/usr/local/bin/containerd"
mkdir -p "$root/opt/cni/bin" && for p in "$root"/usr/lib/cni/*; do ln -sfn "/usr/lib/cni/$(basename "$p")" "$root/opt/cni/bin/"; done
chroot "$root" ctr oci spec \
  | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
  | jq 'del(.process.rlimits)' > "$root/etc/containerd/cri-base.json"
install -D -m 0644 "$CI_DIR/node/10-rhdemo-lab-ptp.conflist" "$root/etc/cni/net.d/10-rhdemo-lab-ptp.conflist"
install -m 0755 "$K8S_BIN/kubeadm" "$K8S_BIN/kubelet" "$K8S_BIN/kubectl" "$root/usr/bin/"
install -m 0755 "$CACHE_BIN/crictl-$CRI_TOOLS_VERSION" "$root/usr/local/bin/crictl"  # kind's own node images have it
echo "$KUBERNETES_VERSION" > "$root/kind/version"

# ---- 2. the images the node must hold ------------------------------------------------
# single_binary_image IMAGE BINARY PATH-IN-IMAGE ENTRYPOINT-JSON
single_binary_image() {
  local image="$1" binary="$2" path="$3" entrypoint="$4" dir="$work/img-$RANDOM"
  mkdir -p "$dir/tmp" "$dir/etc" "$dir$(dirname "$path")"
  chmod 1777 "$dir/tmp"
  install -m 0755 "$binary" "$dir$path"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
  tar -C "$dir" --numeric-owner --owner=0 --group=0 -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change "ENTRYPOINT $entrypoint" - "$image" >/dev/null
  rm -rf "$dir"
}
images=()
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  single_binary_image "registry.k8s.io/$c:$KUBERNETES_VERSION" "$K8S_BIN/$c" "/usr/local/bin/$c" "[\"/usr/local/bin/$c\"]"
  images+=("registry.k8s.io/$c:$KUBERNETES_VERSION")
done
single_binary_image "registry.k8s.io/etcd:$ETCD_IMAGE_TAG" "$CACHE_BIN/etcd-$ETCD_VERSION" /usr/local/bin/etcd '["/usr/local/bin/etcd"]'
single_binary_image "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$CACHE_BIN/coredns-$COREDNS_VERSION" /coredns '["/coredns"]'
single_binary_image "$LOCAL_IMAGE_PREFIX/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" \
  "$CACHE_BIN/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION" /usr/local/bin/local-path-provisioner '["/usr/local/bin/local-path-provisioner"]'
images+=("registry.k8s.io/etcd:$ETCD_IMAGE_TAG" "registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
         "$LOCAL_IMAGE_PREFIX/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION")
for tag in $PAUSE_IMAGE_TAGS; do
  single_binary_image "registry.k8s.io/pause:$tag" "$K8S_BIN/pause" /pause '["/pause"]'
  images+=("registry.k8s.io/pause:$tag")
done
# kube-proxy programs iptables/nftables and the local-path helper runs sh scripts: both need a userland.
tools="$work/tools"; mkdir -p "$tools"; tar -C "$tools" -xf "$tools_tar"
tar -C "$tools" --numeric-owner -c . | docker import - "$LOCAL_IMAGE_PREFIX/local-path-helper:$DEBIAN_SUITE" >/dev/null
install -m 0755 "$K8S_BIN/kube-proxy" "$tools/usr/local/bin/kube-proxy"
tar -C "$tools" --numeric-owner -c . | docker import --change 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]' - "registry.k8s.io/kube-proxy:$KUBERNETES_VERSION" >/dev/null
images+=("$LOCAL_IMAGE_PREFIX/local-path-helper:$DEBIAN_SUITE" "registry.k8s.io/kube-proxy:$KUBERNETES_VERSION")
rm -rf "$tools"
# Every image kubeadm will ask for must be among them.
for wanted in $("$K8S_BIN/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null); do
  printf '%s\n' "${images[@]}" | grep -qx "$wanted" || { echo "kubeadm needs $wanted, not built" >&2; exit 1; }
done

# kind installs these at cluster creation: storage is kind's own manifest (read from its
# module) with our images; the CNI is static (see .ci/node/default-cni.yaml).
mkdir -p "$root/kind/manifests"
install -m 0644 "$CI_DIR/node/default-cni.yaml" "$root/kind/manifests/default-cni.yaml"
python3 - "$kind_dir/pkg/build/nodeimage/const_storage.go" \
  "$LOCAL_IMAGE_PREFIX/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" \
  "$LOCAL_IMAGE_PREFIX/local-path-helper:$DEBIAN_SUITE" > "$root/kind/manifests/default-storage.yaml" <<'PY'
import re, sys
src, provisioner, helper = sys.argv[1:]
text = open(src).read()
text = text.replace("` + storageProvisionerImage + `", provisioner).replace("` + storageHelperImage + `", helper)
body = re.search(r"const defaultStorageManifest = `(.*?)`", text, re.S).group(1)
assert "`" not in body and "storage" in body
sys.stdout.write(body)
PY

# ---- 3. import the images into the node's containerd, then commit ---------------------
tar -C "$root" --numeric-owner -c . | docker import - "$NODE_IMAGE-rootfs" >/dev/null
rm -rf "$root"
docker save "${images[@]}" -o "$work/images.tar"
c="rhdemo-lab-node-build-$$"
docker run -d --name "$c" --privileged --entrypoint sleep "$NODE_IMAGE-rootfs" infinity >/dev/null
docker cp "$work/images.tar" "$c:/images.tar"
docker exec "$c" bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &
  for i in $(seq 50); do ctr info >/dev/null 2>&1 && break; sleep 0.2; done
  ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests /images.tar
  ctr --namespace=k8s.io images list -q
  pkill containerd; for i in $(seq 50); do pgrep -x containerd >/dev/null || break; sleep 0.2; done
  rm -f /images.tar /var/log/containerd-build.log'
docker commit \
  --change 'ENV container=docker' --change 'STOPSIGNAL SIGRTMIN+3' \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
  --change "LABEL rhdemo-lab.cache-key=$cache_key" --change "LABEL rhdemo-lab.kubernetes-version=$KUBERNETES_VERSION" \
  "$c" "$NODE_IMAGE" >/dev/null
docker rm -f "$c" >/dev/null
docker rmi "$NODE_IMAGE-rootfs" >/dev/null
log "node image $NODE_IMAGE built (key $cache_key): $(docker image inspect -f '{{.Size}}' "$NODE_IMAGE" | numfmt --to=iec)"
built "$NODE_IMAGE"
