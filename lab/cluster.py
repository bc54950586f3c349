"""The kind cluster: describe, converge (like ctlptl), delete, load images only when missing."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.config import LabConfig
from lab.errors import LabError
from lab.runner import CommandError, Runner

# Where local-path-provisioner keeps PersistentVolumes inside the node: data lives here.
LOCAL_PATH_DIR = "/var/local-path-provisioner"


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int
    listen_address: str = "127.0.0.1"


@dataclass(frozen=True)
class ClusterState:
    exists: bool  # kind knows it (`kind get clusters`)
    container_exists: bool = False
    running: bool = False
    node_image: str | None = None
    node_image_id: str | None = None
    port_mappings: frozenset[PortMapping] = frozenset()
    api_healthy: bool = False
    has_volumes: bool = False  # PersistentVolume data in the node (recreating would lose it)


@dataclass(frozen=True)
class ClusterPlan:
    action: str  # "none" | "create" | "start" | "recreate" | "refuse"
    reasons: tuple[str, ...] = ()


def desired_port_mappings(config: LabConfig) -> frozenset[PortMapping]:
    return frozenset({PortMapping(config.app_node_port, config.app_host_port),
                      PortMapping(config.actuator_node_port, config.actuator_host_port)})


def kind_config(config: LabConfig) -> dict[str, Any]:
    """One control-plane node; host ports -> the app's NodePorts so it answers on localhost."""
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [{
            "role": "control-plane",
            "extraPortMappings": [
                {"containerPort": m.container_port, "hostPort": m.host_port,
                 "listenAddress": m.listen_address, "protocol": "TCP"}
                for m in sorted(desired_port_mappings(config), key=lambda m: m.container_port)
            ],
        }],
    }


def config_differences(config: LabConfig, state: ClusterState, node_image_id: str | None) -> list[str]:
    """What differs between the desired and the existing node (empty = same config)."""
    differences = []
    if config.node_image and node_image_id and state.node_image_id and node_image_id != state.node_image_id:
        differences.append(f"node image: running {state.node_image}, wanted {config.node_image}")
    missing = desired_port_mappings(config) - state.port_mappings
    for mapping in sorted(missing, key=lambda m: m.host_port):
        differences.append(f"port mapping {mapping.listen_address}:{mapping.host_port}->{mapping.container_port} missing")
    return differences


def plan_cluster(config: LabConfig, state: ClusterState, desired_node_image_id: str | None,
                 recreate: bool = False) -> ClusterPlan:
    """Pure decision: what to do to converge the cluster. Never destroys data without `recreate`."""
    if not state.exists and not state.container_exists:
        return ClusterPlan("create", ("no cluster",))
    if not state.exists and state.container_exists:
        # A node container kind does not know: the leftover of an interrupted create/delete.
        return ClusterPlan("recreate", ("leftover node container from an interrupted run",))
    differences = config_differences(config, state, desired_node_image_id)
    if differences:
        if recreate or not state.has_volumes:
            return ClusterPlan("recreate", tuple(differences))
        return ClusterPlan("refuse", tuple(differences))
    if not state.running:
        return ClusterPlan("start", ("node container stopped",))
    if not state.api_healthy:
        if recreate or not state.has_volumes:
            return ClusterPlan("recreate", ("API server not healthy (interrupted create?)",))
        return ClusterPlan("refuse", ("API server not healthy",))
    return ClusterPlan("none", ())


def _port_mappings_from_inspect(inspect: Mapping[str, Any]) -> frozenset[PortMapping]:
    bindings = (inspect.get("HostConfig") or {}).get("PortBindings") or {}
    mappings = set()
    for container_port, hosts in bindings.items():
        number, _, protocol = container_port.partition("/")
        if protocol not in ("", "tcp"):
            continue
        for host in hosts or []:
            if host.get("HostPort"):
                mappings.add(PortMapping(int(number), int(host["HostPort"]), host.get("HostIp") or "0.0.0.0"))
    return frozenset(mappings)


class Cluster:
    def __init__(self, config: LabConfig, runner: Runner, docker_client: Any) -> None:
        self.config = config
        self.runner = runner
        self.docker = docker_client

    # --- actual state -------------------------------------------------------------------------
    def kind_clusters(self) -> list[str]:
        return self.runner.run(["kind", "get", "clusters"], timeout=60).stdout.split()

    def _container(self) -> Any | None:
        import docker.errors

        try:
            return self.docker.containers.get(self.config.node_container)
        except docker.errors.NotFound:
            return None

    def api_healthy(self, timeout: int = 20) -> bool:
        try:
            result = self.runner.run(["kubectl", "--context", self.config.context, "get", "--raw", "/readyz",
                                      f"--request-timeout={timeout}s"], timeout=timeout + 5, check=False)
        except LabError:
            return False
        return result.returncode == 0 and result.stdout.strip() == "ok"

    def _has_volumes(self) -> bool:
        result = self.runner.run(["docker", "exec", self.config.node_container, "sh", "-c",
                                  f"ls -A {LOCAL_PATH_DIR} 2>/dev/null | head -1"], check=False, timeout=30)
        return bool(result.stdout.strip())

    def describe(self) -> ClusterState:
        exists = self.config.cluster_name in self.kind_clusters()
        container = self._container()
        if container is None:
            return ClusterState(exists=exists)
        inspect = container.attrs
        running = bool(inspect.get("State", {}).get("Running"))
        healthy = running and self._ensure_kubeconfig(exists) and self.api_healthy()
        return ClusterState(
            exists=exists, container_exists=True, running=running,
            node_image=inspect.get("Config", {}).get("Image"), node_image_id=inspect.get("Image"),
            port_mappings=_port_mappings_from_inspect(inspect), api_healthy=healthy,
            has_volumes=running and self._has_volumes())

    def _ensure_kubeconfig(self, exists: bool) -> bool:
        """The kind context may be missing from this user's kubeconfig (another shell created it)."""
        contexts = self.runner.run(["kubectl", "config", "get-contexts", "-o", "name"], check=False, timeout=30)
        if self.config.context in contexts.stdout.split():
            return True
        if exists:
            self.runner.run(["kind", "export", "kubeconfig", "--name", self.config.cluster_name], timeout=60)
            return True
        return False

    def desired_node_image_id(self) -> str | None:
        if not self.config.node_image:
            return None
        import docker.errors

        try:
            return str(self.docker.images.get(self.config.node_image).id)
        except docker.errors.ImageNotFound:
            return None

    # --- converge -----------------------------------------------------------------------------
    def ensure(self, recreate: bool = False, on_step: Callable[[str], None] = lambda s: None) -> ClusterPlan:
        state = self.describe()
        if state.exists and state.running and not state.api_healthy:
            # One failed probe on a loaded machine is not a broken cluster: give it time before any recreate.
            on_step("the API server does not answer yet; waiting up to 90s")
            if self._wait_healthy(90):
                state = self.describe()
        plan = plan_cluster(self.config, state, self.desired_node_image_id(), recreate)
        if plan.action == "none":
            return plan
        if plan.action == "refuse":
            raise LabError(f"cluster {self.config.cluster_name} exists but: {'; '.join(plan.reasons)}; "
                           "it holds database volumes, so the lab will not recreate it on its own",
                           "keep the data and fix the cause, or recreate it: `lab up --recreate` "
                           "(or `lab down && lab up`; the data is lost)")
        if plan.action == "start":
            on_step("starting the stopped node container")
            self.runner.run(["docker", "start", self.config.node_container], timeout=120)
            if self._wait_healthy(180):
                return plan
            state = self.describe()
            if state.has_volumes and not recreate:
                raise LabError(f"cluster {self.config.cluster_name} did not become healthy after a restart",
                               "look at `docker logs rhdemo-lab-control-plane`, or recreate: `lab up --recreate`")
            plan = ClusterPlan("recreate", plan.reasons + ("not healthy after restart",))
        if plan.action == "recreate":
            on_step(f"recreating the cluster ({'; '.join(plan.reasons)})")
            self.delete()
        on_step("creating the kind cluster (about a minute)")
        self.create()
        return plan

    def _wait_healthy(self, seconds: int) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.api_healthy(10):
                return True
            time.sleep(3)
        return False

    def create(self) -> None:
        if self.config.node_image and not self.desired_node_image_id():
            raise LabError(f"node image {self.config.node_image} is not in Docker and cannot be pulled here",
                           "build it first (`bash .ci/lib/build-node-image.sh`) or drop --node-image")
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="kind-config-") as handle:
            yaml.safe_dump(kind_config(self.config), handle)
            handle.flush()
            argv = ["kind", "create", "cluster", "--name", self.config.cluster_name, "--config", handle.name,
                    "--wait", f"{self.config.timeouts.cluster_create}s"]
            if self.config.node_image:
                argv += ["--image", self.config.node_image]
            try:
                self.runner.run(argv, timeout=self.config.timeouts.cluster_create + 120)
            except CommandError as exc:
                if "port is already allocated" in exc.stderr_tail or "address already in use" in exc.stderr_tail:
                    raise LabError(f"kind could not bind the lab's host ports: {exc.stderr_tail.splitlines()[-1]}",
                                   "run `lab doctor` to see which port is taken and how to free it") from None
                raise

    def delete(self) -> None:
        self.runner.run(["kind", "delete", "cluster", "--name", self.config.cluster_name], timeout=300)
        container = self._container()
        if container is not None:  # kind forgot it (interrupted create): remove by hand
            container.remove(force=True, v=True)

    # --- images in the node -------------------------------------------------------------------
    def node_images(self, only: Collection[str] | None = None) -> dict[str, str]:
        """reference -> image ID (the config digest, what Docker calls the image ID) as containerd in the
        node sees them. crictl when the node has it; else ctr, reading each image's manifest for its config."""
        result = self._node_exec(["crictl", "images", "-o", "json"])
        images: dict[str, str] = {}
        if result.returncode == 0:
            for image in json.loads(result.stdout or "{}").get("images", []):
                for tag in image.get("repoTags") or []:
                    images[tag] = image["id"]
            return images
        listing = self._node_exec(["ctr", "-n", "k8s.io", "images", "ls"])
        if listing.returncode != 0:
            raise LabError(f"cannot list the images in node {self.config.node_container}: {listing.stderr.strip()}",
                           "is the node healthy? `docker logs " + self.config.node_container + "`")
        for line in listing.stdout.splitlines()[1:]:
            fields = line.split()
            wanted = only is None or fields[0] in only
            if len(fields) >= 3 and not fields[0].startswith("sha256:") and wanted:
                config_digest = self._config_digest(fields[2])
                if config_digest:
                    images[fields[0]] = config_digest
        return images

    def _node_exec(self, argv: list[str]) -> Any:
        return self.runner.run(["docker", "exec", self.config.node_container, *argv], check=False, timeout=60)

    def _config_digest(self, target: str) -> str | None:
        """Manifest (or index -> linux/amd64 manifest) -> its config digest."""
        for _ in range(2):
            content = self._node_exec(["ctr", "-n", "k8s.io", "content", "get", target])
            if content.returncode != 0:
                return None
            document = json.loads(content.stdout or "{}")
            if "config" in document:
                return str(document["config"]["digest"])
            manifests = document.get("manifests") or []
            chosen = next((m for m in manifests if (m.get("platform") or {}).get("architecture") in ("amd64", None)),
                          manifests[0] if manifests else None)
            if chosen is None:
                return None
            target = chosen["digest"]
        return None

    def load(self, references: Sequence[str]) -> None:
        if references:
            self.runner.run(["kind", "load", "docker-image", "--name", self.config.cluster_name, *references],
                            timeout=self.config.timeouts.command + 60 * len(references))


def images_to_load(wanted: Mapping[str, str], in_node: Mapping[str, str]) -> list[str]:
    """Pure: references whose Docker image ID (wanted[ref]) is not what the node has under that name."""
    return [ref for ref, image_id in wanted.items() if in_node.get(containerd_name(ref)) != image_id]


def containerd_name(reference: str) -> str:
    """containerd fully qualifies names: `postgres:16` -> `docker.io/library/postgres:16`."""
    first, _, rest = reference.partition("/")
    if not rest:
        return f"docker.io/library/{reference}"
    if "." in first or ":" in first or first == "localhost":
        return reference
    return f"docker.io/{reference}"


@dataclass
class ClusterDescription:
    """For `lab status`."""

    name: str
    state: ClusterState
    context: str
    extra: dict[str, str] = field(default_factory=dict)
