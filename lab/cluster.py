"""The cluster the lab runs on, behind one small interface (like kind's providers):

- `KindCluster`: the lab's own kind cluster — described, converged (like ctlptl), deleted; images
  loaded into its node only when missing; localhost ports lead to the app's NodePorts.
- `ExistingCluster`: a cluster given with `--context` — the lab only checks that it answers; it never
  creates, deletes or loads images into it.

`cluster_for(config, runner)` is the one place that chooses between them.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from lab import images as images_mod
from lab.config import LabConfig
from lab.errors import LabError
from lab.kube import api_readyz, kube_contexts, port_forward_command
from lab.runner import CommandError, Runner, install_hint

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
        if state.node_image == config.node_image:  # same tag, other content
            differences.append(f"node image {config.node_image} was rebuilt since the cluster was created "
                               f"(running {_short_id(state.node_image_id)}, now {_short_id(node_image_id)})")
        else:
            differences.append(f"node image: running {state.node_image}, wanted {config.node_image}")
    missing = desired_port_mappings(config) - state.port_mappings
    for mapping in sorted(missing, key=lambda m: m.host_port):
        differences.append(f"port mapping {mapping.listen_address}:{mapping.host_port}->{mapping.container_port} missing")
    return differences


def _short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


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


OnStep = Callable[[str], None]


@dataclass(frozen=True)
class HostPort:
    """A localhost port the cluster publishes for the lab (doctor checks it can be bound)."""

    name: str      # what answers there: "app", "actuator"
    port: int
    setting: str   # the config key that moves it
    held_by_lab: bool = False  # already published by this lab's own node: expected to be taken


@dataclass(frozen=True)
class ContextCheck:
    """Can the lab reach (or create) this cluster? For `lab doctor`."""

    ok: bool
    detail: str
    fix: str | None = None


class ClusterProvider(Protocol):
    """What `lab` needs of a cluster, whoever owns it."""

    @property
    def context(self) -> str: ...
    @property
    def description(self) -> str: ...  # "kind cluster rhdemo-lab" | "existing cluster (context x)"
    @property
    def tools(self) -> tuple[str, ...]: ...  # command-line tools it needs beyond helm and kubectl

    def ensure(self, recreate: bool = False, on_step: OnStep = lambda s: None) -> ClusterPlan:
        """Converge (or only check) the cluster; the plan that was carried out (action "none": unchanged)."""
    def api_healthy(self, timeout: int = 20) -> bool: ...
    def exists(self) -> bool: ...
    def describe(self) -> ClusterState | None:
        """The node's state, for `lab status` (None: not the lab's to describe)."""
    def load_images(self, wanted: Mapping[str, str], on_step: OnStep = lambda s: None) -> list[str] | None:
        """Give the nodes the images `wanted` (reference -> Docker image ID) they lack; the references
        loaded, or None when the lab cannot load into this cluster (its nodes must pull them)."""
    def delete(self) -> str | None:
        """Delete the cluster and say what was done; None when the lab does not own it."""
    def urls(self) -> dict[str, str]: ...  # how a user reaches the app
    def host_ports(self) -> list[HostPort]: ...
    def check_context(self) -> ContextCheck: ...


def api_answers(runner: Runner, context: str, timeout: int = 20) -> bool:
    try:
        result = api_readyz(runner, context, timeout)
    except LabError:
        return False
    return result.returncode == 0 and result.stdout.strip() == "ok"


def app_urls(config: LabConfig) -> dict[str, str]:
    return {"API": f"http://localhost:{config.app_host_port}/api/employes",
            "health": f"http://localhost:{config.actuator_host_port}/actuator/health"}


class KindCluster:
    """The lab's own kind cluster: one node, host ports -> the app's NodePorts, images loaded by `kind load`."""

    tools = ("kind",)

    def __init__(self, config: LabConfig, runner: Runner, docker_client: Any = None) -> None:
        self.config = config
        self.runner = runner
        self._docker = docker_client

    @property
    def docker(self) -> Any:
        if self._docker is None:
            self._docker = images_mod.docker_client()
        return self._docker

    @property
    def context(self) -> str:
        return self.config.context

    @property
    def description(self) -> str:
        return f"kind cluster {self.config.cluster_name}"

    # --- actual state -------------------------------------------------------------------------
    def kind_clusters(self) -> list[str]:
        return self.runner.run(["kind", "get", "clusters"], timeout=60).stdout.split()

    def exists(self) -> bool:
        return self.config.cluster_name in self.kind_clusters() or self._container() is not None

    def _container(self) -> Any | None:
        import docker.errors

        try:
            return self.docker.containers.get(self.config.node_container)
        except docker.errors.NotFound:
            return None

    def api_healthy(self, timeout: int = 20) -> bool:
        return api_answers(self.runner, self.config.context, timeout)

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
        if self.config.context in kube_contexts(self.runner):
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
    def ensure(self, recreate: bool = False, on_step: OnStep = lambda s: None) -> ClusterPlan:
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
        self.check_node_image()  # before a recreate deletes anything
        if plan.action == "recreate":
            on_step(f"recreating the cluster ({'; '.join(plan.reasons)})")
            self._delete()
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

    def node_image(self) -> str | None:
        """The node image `kind create cluster` boots: --node-image, else kind's default (None: unknown)."""
        if self.config.node_image:
            return self.config.node_image
        kind = self.runner.which("kind")
        return images_mod.kind_default_node_image(Path(kind)) if kind else None

    def check_node_image(self) -> None:
        """Before kind tries: a node image that is neither in Docker nor pullable, or a Kubernetes that
        refuses this host's cgroups, is one clear error with its fix (kind's would be pages of output)."""
        reference = self.node_image()
        if reference is None:
            return
        builder = images_mod.ImageBuilder(self.docker)
        if builder.image_id(reference) is None:
            pull = images_mod.PullProbe(images_mod.docker_client(timeout=images_mod.PROBE_SECONDS)).check(reference)
            if not pull.pullable:
                raise LabError(f"node image {reference} is not in Docker and cannot be pulled: {pull.reason}",
                               images_mod.node_image_fix(reference))
        version = builder.node_kubernetes_version(reference)
        refusal = images_mod.cgroup_refusal(str(self.docker.info().get("CgroupVersion") or ""), version) if version else None
        if refusal is not None:
            raise refusal

    def create(self) -> None:
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

    def delete(self) -> str | None:
        if not self.exists():
            return f"no cluster {self.config.cluster_name}"
        self._delete()
        return f"cluster {self.config.cluster_name} deleted (with its volumes)"

    def _delete(self) -> None:
        self.runner.run(["kind", "delete", "cluster", "--name", self.config.cluster_name], timeout=300)
        container = self._container()
        if container is not None:  # kind forgot it (interrupted create): remove by hand
            container.remove(force=True, v=True)

    def urls(self) -> dict[str, str]:
        return app_urls(self.config)

    def host_ports(self) -> list[HostPort]:
        held = self._published_ports()
        return [HostPort(name, port, setting, port in held) for name, port, setting in (
            ("app", self.config.app_host_port, "app_host_port"),
            ("actuator", self.config.actuator_host_port, "actuator_host_port"))]

    def _published_ports(self) -> set[int]:
        """Host ports already published by this lab's node container (from the Docker engine)."""
        try:
            container = self._container()
        except LabError:  # no Docker: doctor reports that on its own line
            return set()
        if container is None:
            return set()
        return {mapping.host_port for mapping in _port_mappings_from_inspect(container.attrs)}

    def check_context(self) -> ContextCheck:
        return ContextCheck(True, f"{self.config.context} (the lab's kind cluster; created by `lab up` if missing)")

    # --- images in the node -------------------------------------------------------------------
    def node_images(self) -> dict[str, str]:
        """reference -> image ID (the config digest, what Docker calls the image ID) as containerd in the
        node sees them, read with crictl (in kind's node images and in the lab's registry-free one)."""
        result = self._node_exec(["crictl", "images", "-o", "json"])
        if result.returncode != 0:
            raise LabError(f"cannot list the images in node {self.config.node_container} with crictl: "
                           f"{result.stderr.strip()[:200]}",
                           "a node image without crictl is older than this lab: rebuild it "
                           "(`lab build node-image`) and run `lab up --recreate`")
        return {tag: image["id"] for image in json.loads(result.stdout or "{}").get("images", [])
                for tag in image.get("repoTags") or []}

    def _node_exec(self, argv: list[str]) -> Any:
        return self.runner.run(["docker", "exec", self.config.node_container, *argv], check=False, timeout=60)

    def load_images(self, wanted: Mapping[str, str], on_step: OnStep = lambda s: None) -> list[str] | None:
        missing = images_to_load(wanted, self.node_images())
        if missing:
            on_step(f"loading into the node: {', '.join(missing)}")
            self.load(missing)
        return missing

    def load(self, references: Sequence[str]) -> None:
        if references:
            self.runner.run(["kind", "load", "docker-image", "--name", self.config.cluster_name, *references],
                            timeout=self.config.timeouts.command + 60 * len(references))


class ExistingCluster:
    """A cluster the user already has (`--context`): checked, never created, deleted or loaded into."""

    tools: tuple[str, ...] = ()

    def __init__(self, config: LabConfig, runner: Runner) -> None:
        self.config = config
        self.runner = runner

    @property
    def context(self) -> str:
        return self.config.context

    @property
    def description(self) -> str:
        return f"existing cluster, context {self.config.context}"

    def ensure(self, recreate: bool = False, on_step: OnStep = lambda s: None) -> ClusterPlan:
        if not self.api_healthy():
            raise LabError(f"the cluster of context {self.config.context} does not answer",
                           "check `kubectl --context <ctx> get --raw /readyz`, or drop --context to use the lab's kind cluster")
        return ClusterPlan("none", ())

    def api_healthy(self, timeout: int = 20) -> bool:
        return api_answers(self.runner, self.config.context, timeout)

    def exists(self) -> bool:
        return True

    def describe(self) -> ClusterState | None:
        return None

    def load_images(self, wanted: Mapping[str, str], on_step: OnStep = lambda s: None) -> list[str] | None:
        return None

    def delete(self) -> str | None:
        return None

    def urls(self) -> dict[str, str]:
        return {"API (port-forward)": port_forward_command(self.config.context, self.config.namespace,
                                                           "svc/rhdemo-app", self.config.app_host_port, 8080)}

    def host_ports(self) -> list[HostPort]:
        return []

    def check_context(self) -> ContextCheck:
        context = self.config.context
        if self.runner.which("kubectl") is None:
            return ContextCheck(False, f"cannot check {context}: kubectl missing", install_hint("kubectl"))
        if context not in kube_contexts(self.runner):
            return ContextCheck(False, f"context {context!r} is not in your kubeconfig",
                                "list contexts: `kubectl config get-contexts -o name`; or drop --context to use a kind cluster")
        result = api_readyz(self.runner, context, 10)
        if result.returncode != 0:
            return ContextCheck(False, f"{context}: API server does not answer ({result.stderr.strip()[:120]})",
                                "start that cluster, or drop --context to let the lab create its kind cluster")
        return ContextCheck(True, f"{context} answers")


def cluster_for(config: LabConfig, runner: Runner, docker_client: Any = None) -> ClusterProvider:
    """The lab's kind cluster, or the existing one named by --context."""
    if config.uses_kind:
        return KindCluster(config, runner, docker_client)
    return ExistingCluster(config, runner)


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
