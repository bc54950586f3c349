#!/usr/bin/env bash
# cluster.sh up|down|logs: the CI's kind cluster on the registry-free node image.
# `up` reuses a healthy cluster of the same name; a broken one is recreated.
source "$(dirname "$0")/common.sh"

# Same variables as the lab's own config, so `lab` and the tests find this cluster.
CLUSTER_NAME="${RHDEMO_LAB_CLUSTER_NAME:-rhdemo-lab}"
APP_PORT="${RHDEMO_LAB_APP_HOST_PORT:-8080}"
ACTUATOR_PORT="${RHDEMO_LAB_ACTUATOR_HOST_PORT:-9000}"
NODE_IMAGE="${RHDEMO_LAB_NODE_IMAGE:-$LOCAL_IMAGE_PREFIX/kind-node:$KUBERNETES_VERSION}"
KIND="$CACHE_BIN/kind"

healthy() {
  "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME" &&
    kubectl --context "kind-$CLUSTER_NAME" get nodes --no-headers 2>/dev/null | grep -q ' Ready '
}

case "${1:-}" in
  up)
    if healthy; then log "cluster $CLUSTER_NAME: healthy, reused"; exit 0; fi
    "$KIND" delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1 || true
    config="$(mktemp /tmp/rhdemo-lab-kind.XXXX.yaml)"
    cat > "$config" <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraPortMappings:
      - {containerPort: 30080, hostPort: $APP_PORT, listenAddress: "127.0.0.1", protocol: TCP}
      - {containerPort: 30900, hostPort: $ACTUATOR_PORT, listenAddress: "127.0.0.1", protocol: TCP}
YAML
    "$KIND" create cluster --name "$CLUSTER_NAME" --image "$NODE_IMAGE" --config "$config" --wait 4m
    rm -f "$config"
    kubectl --context "kind-$CLUSTER_NAME" wait --for=condition=Ready nodes --all --timeout=120s
    for ns in kube-system local-path-storage; do
      kubectl --context "kind-$CLUSTER_NAME" -n "$ns" wait --for=condition=Available deployment --all --timeout=180s
    done
    ;;
  down)
    "$KIND" delete cluster --name "$CLUSTER_NAME"
    ;;
  logs)
    dir="/tmp/rhdemo-lab-ci/kind-logs"; rm -rf "$dir"
    "$KIND" export logs --name "$CLUSTER_NAME" "$dir" >/dev/null 2>&1 || true
    docker exec "$CLUSTER_NAME-control-plane" journalctl --no-pager -u kubelet -u containerd 2>/dev/null | tail -n 80 || true
    ;;
  *) echo "usage: $0 up|down|logs" >&2; exit 2 ;;
esac
