"""Smoke test of the registry-free kind cluster: everything the lab relies on, exercised for real."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.cluster.conftest import CACHE_BIN, Cluster, tool

pytestmark = pytest.mark.cluster

# A Debian userland (sh, bash, getent) that the node image builder imports into the node.
BASE_IMAGE = "localhost/rhdemo-lab/local-path-helper:trixie"
SMOKE_CHART = Path(__file__).parent / "charts" / "smoke"


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"smoke-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def smoke_image(cluster: Cluster) -> str:
    """An image built here with the Docker SDK, then `kind load docker-image`-ed."""
    client = docker.from_env()
    marker = uuid.uuid4().hex[:12]
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo {marker} > /smoke-marker\n".encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    tag = f"localhost/rhdemo-lab/smoke:{marker}"
    client.images.build(fileobj=context, custom_context=True, tag=tag, pull=False, rm=True)
    subprocess.run([tool("kind"), "load", "docker-image", "--name", cluster.name, tag], check=True,
                   capture_output=True, text=True)
    yield tag
    client.images.remove(tag, force=True)


def apply(cluster: Cluster, namespace: str, manifest: dict) -> None:
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(manifest))


def pod(name: str, image: str, command: str, **spec_extra) -> dict:
    container = {"name": "main", "image": image, "imagePullPolicy": "Never", "command": ["bash", "-c", command]}
    container.update(spec_extra.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"restartPolicy": "Never", "containers": [container], **spec_extra}}


def wait_phase(cluster: Cluster, namespace: str, name: str, phase: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = cluster.kubectl_json("-n", namespace, "get", "pod", name)
        if obj["status"].get("phase") == phase:
            return obj
        if obj["status"].get("phase") == "Failed" and phase != "Failed":
            break
        time.sleep(1)
    events = cluster.kubectl("-n", namespace, "get", "events", "--field-selector", f"involvedObject.name={name}",
                             check=False).stdout
    raise AssertionError(f"pod {name} not {phase} after {timeout}s: {obj['status']}\n{events}")


def logs(cluster: Cluster, namespace: str, name: str) -> str:
    return cluster.kubectl("-n", namespace, "logs", name).stdout


def test_nodes_are_ready(cluster: Cluster) -> None:
    nodes = cluster.kubectl_json("get", "nodes")["items"]
    assert nodes, "no node"
    for node in nodes:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", node["status"]["conditions"]


def test_system_pods_run(cluster: Cluster) -> None:
    pods = cluster.kubectl_json("get", "pods", "-A")["items"]
    names = {p["metadata"]["name"].rsplit("-", 2)[0] if "coredns" in p["metadata"]["name"] else p["metadata"]["name"]
             for p in pods if p["status"].get("phase") == "Running"}
    assert any(n.startswith("coredns") for n in names), names
    assert any(n.startswith("kube-proxy") for n in names), names
    assert any(n.startswith("local-path-provisioner") for n in names), names


def test_the_node_has_crictl_like_kinds_own(cluster: Cluster) -> None:
    """kind's node images carry crictl (kind skips reloading an image it finds there; the lab reads image IDs with it)."""
    docker = tool("docker")
    version = subprocess.run([docker, "exec", cluster.node_container, "crictl", "--version"],
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and "v1.34.0" in version.stdout, version.stdout + version.stderr
    listing = subprocess.run([docker, "exec", cluster.node_container, "crictl", "images", "-o", "json"],
                             capture_output=True, text=True, timeout=60)
    tags = {tag for image in json.loads(listing.stdout)["images"] for tag in image.get("repoTags") or []}
    assert any(tag.startswith("registry.k8s.io/kube-apiserver:") for tag in tags), tags


def test_locally_built_image_runs(cluster: Cluster, namespace: str, smoke_image: str) -> None:
    apply(cluster, namespace, pod("marker", smoke_image, "cat /smoke-marker"))
    wait_phase(cluster, namespace, "marker", "Succeeded")
    assert logs(cluster, namespace, "marker").strip() == smoke_image.rsplit(":", 1)[1]


def test_service_name_resolves_and_routes_from_another_pod(cluster: Cluster, namespace: str, smoke_image: str) -> None:
    # A Service name resolves through CoreDNS, and a Service VIP routes through kube-proxy.
    apply(cluster, namespace, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "smoke-svc"},
                               "spec": {"selector": {"app": "nothing"}, "ports": [{"port": 80}]}})
    cmd = ("getent hosts smoke-svc.%s.svc.cluster.local && getent hosts kubernetes.default.svc.cluster.local && "
           "exec 3<>/dev/tcp/kubernetes.default.svc.cluster.local/443 && echo tcp-ok") % namespace
    apply(cluster, namespace, pod("resolver", smoke_image, cmd))
    wait_phase(cluster, namespace, "resolver", "Succeeded")
    out = logs(cluster, namespace, "resolver")
    svc_ip = cluster.kubectl_json("-n", namespace, "get", "service", "smoke-svc")["spec"]["clusterIP"]
    assert svc_ip in out and "tcp-ok" in out, out


def test_pvc_binds_and_data_survives_pod_deletion(cluster: Cluster, namespace: str, smoke_image: str) -> None:
    apply(cluster, namespace, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                               "spec": {"accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {"storage": "16Mi"}}}})
    volume = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
              "container": {"volumeMounts": [{"name": "data", "mountPath": "/data"}]}}
    token = uuid.uuid4().hex
    apply(cluster, namespace, pod("writer", smoke_image, f"echo {token} > /data/token", **volume))
    wait_phase(cluster, namespace, "writer", "Succeeded", timeout=180)
    assert cluster.kubectl_json("-n", namespace, "get", "pvc", "data")["status"]["phase"] == "Bound"
    cluster.kubectl("-n", namespace, "delete", "pod", "writer")
    apply(cluster, namespace, pod("reader", smoke_image, "cat /data/token", **volume))
    wait_phase(cluster, namespace, "reader", "Succeeded")
    assert logs(cluster, namespace, "reader").strip() == token


def test_job_completes(cluster: Cluster, namespace: str, smoke_image: str) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "smoke-job"},
           "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "main", "image": smoke_image, "imagePullPolicy": "Never",
                "command": ["sh", "-c", "echo job-done"]}]}}}}
    apply(cluster, namespace, job)
    cluster.kubectl("-n", namespace, "wait", "--for=condition=complete", "job/smoke-job", "--timeout=120s")
    assert "job-done" in cluster.kubectl("-n", namespace, "logs", "job/smoke-job").stdout


def test_privileged_pod_starts(cluster: Cluster, namespace: str, smoke_image: str) -> None:
    apply(cluster, namespace, pod("privileged", smoke_image, "grep CapEff /proc/self/status",
                                  container={"securityContext": {"privileged": True}}))
    wait_phase(cluster, namespace, "privileged", "Succeeded")
    assert "CapEff" in logs(cluster, namespace, "privileged")


def test_pod_with_negative_oom_score_adj_starts(cluster: Cluster, namespace: str, smoke_image: str) -> None:
    # Guaranteed QoS: kubelet asks for oom_score_adj -997, which needs CAP_SYS_RESOURCE that these
    # machines lack; containerd's restrict_oom_score_adj clamps it instead of failing the pod.
    # A tenth of a core, not 10m: under a 1 ms per 100 ms CFS quota runc's own set-up process, which runs in
    # the container's cgroup, could not reach the freezer in time on a loaded node (CI: "unable to freeze").
    resources = {"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}
    apply(cluster, namespace, pod("guaranteed", smoke_image, "cat /proc/self/oom_score_adj",
                                  container={"resources": resources}))
    obj = wait_phase(cluster, namespace, "guaranteed", "Succeeded")
    assert obj["status"]["qosClass"] == "Guaranteed"
    assert int(logs(cluster, namespace, "guaranteed").strip()) <= 0


def helm_of_major(major: int) -> str:
    """The cached helm of that major (.ci/lib/install-helm.sh builds v3 and v4)."""
    candidates = sorted(CACHE_BIN.glob(f"helm-v{major}.*"))
    if not candidates:
        pytest.fail(f"no helm v{major} in {CACHE_BIN}: run .ci/lib/install-helm.sh")
    return str(candidates[-1])


@pytest.mark.parametrize("helm_major", [3, 4])
def test_helm_install_upgrade_with_hook_and_rollback(cluster: Cluster, smoke_image: str, helm_major: int) -> None:
    namespace = f"smoke-helm{helm_major}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    helm = [helm_of_major(helm_major), "--kube-context", cluster.context, "-n", namespace]

    def run(*args: str) -> str:
        result = subprocess.run([*helm, *args], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def message() -> str:
        return cluster.kubectl_json("-n", namespace, "get", "configmap", "smoke-message")["data"]["message"]

    run("install", "smoke", str(SMOKE_CHART), "--set", f"image={smoke_image}", "--wait")
    assert message() == "first"
    run("upgrade", "smoke", str(SMOKE_CHART), "--set", f"image={smoke_image}", "--set", "message=second", "--wait")
    assert message() == "second"
    hook_log = cluster.kubectl("-n", namespace, "logs", "job/smoke-pre-upgrade-2").stdout
    assert "pre-upgrade hook of revision 2 ran" in hook_log
    run("rollback", "smoke", "1", "--wait")
    assert message() == "first"
    history = json.loads(run("history", "smoke", "-o", "json"))
    assert [h["revision"] for h in history] == [1, 2, 3]
    run("uninstall", "smoke", "--wait")
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
