"""What the lab does to Kubernetes, in one place.

`Kube`: cluster state through the kubernetes Python client (workloads, pods, Jobs, events, waits,
crash detection); every API object is converted here once. `Kubectl`: THE place a kubectl command
line is assembled (exec, logs -f, port-forward, apply from stdin, rollout), through the runner."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml

from lab.errors import LabError
from lab.runner import CommandResult, Runner
from lab.timeouts import DEFAULTS

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"

HOOK_ANNOTATION = "helm.sh/hook"


@dataclass(frozen=True)
class Workload:
    kind: str  # Deployment | StatefulSet
    name: str

    @property
    def component(self) -> str:
        return component_of(self.name)

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


def component_of(name: str) -> str:
    """The component a workload belongs to, by name (the chart follows the seed's names)."""
    lowered = name.lower()
    if "postgres" in lowered:
        return "database-keycloak" if "keycloak" in lowered else "database"
    if "keycloak" in lowered:
        return "keycloak"
    return "app"


@dataclass(frozen=True)
class PodState:
    name: str
    phase: str
    ready: bool
    containers_ready: str  # "1/1"
    restarts: int
    problem: str | None  # CrashLoopBackOff: ..., ImagePullBackOff, OOMKilled...
    labels: dict[str, str] = field(default_factory=dict)
    uid: str = ""
    owner: str = ""       # the owning object's name (a ReplicaSet, a Job...)
    created: str = ""     # creation timestamp, sortable
    started: frozenset[str] = frozenset()  # (non-init) containers running or terminated: they have logs


@dataclass(frozen=True)
class WorkloadState:
    workload: Workload
    desired: int
    ready: int
    updated: int
    up_to_date: bool  # controller observed the latest spec and rolled it out
    pods: tuple[PodState, ...] = ()

    @property
    def healthy(self) -> bool:
        return self.up_to_date and self.ready >= self.desired and all(p.ready for p in self.pods
                                                                       if p.phase not in ("Succeeded", "Failed"))

    @property
    def summary(self) -> str:
        text = f"{self.ready}/{self.desired} ready"
        problems = sorted({p.problem for p in self.pods if p.problem})
        restarts = sum(p.restarts for p in self.pods)
        if restarts:
            text += f", {restarts} restarts"
        if problems:
            text += f" — {', '.join(problems)}"
        elif not self.up_to_date:
            text += " — rolling out"
        return text


@dataclass(frozen=True)
class HookJob:
    name: str
    hook: str  # the helm.sh/hook annotation
    outcome: str  # succeeded | failed | running
    started: str | None
    finished: str | None
    message: str = ""


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    object: str
    message: str
    count: int
    last_seen: str


@dataclass(frozen=True)
class JobState:
    name: str
    annotations: dict[str, str]
    succeeded: int
    failed: int
    active: int
    created: str

    @property
    def hook(self) -> str | None:
        """The `helm.sh/hook` phases of a hook Job, None for a regular Job."""
        return self.annotations.get(HOOK_ANNOTATION)


def to_event(item: Any) -> Event:
    """THE conversion of a Kubernetes event (CoreV1Event)."""
    return Event(item.type or "", item.reason or "", f"{item.involved_object.kind}/{item.involved_object.name}",
                 (item.message or "").strip(), item.count or 1, str(item.last_timestamp or item.event_time or ""))


def to_pod_state(pod: Any) -> PodState:
    """THE conversion of a pod."""
    statuses = pod.status.container_statuses or []
    ready_count = sum(1 for s in statuses if s.ready)
    return PodState(
        name=pod.metadata.name, phase=pod.status.phase or "Unknown",
        ready=bool(statuses) and ready_count == len(statuses) and not pod.metadata.deletion_timestamp,
        containers_ready=f"{ready_count}/{len(pod.spec.containers)}",
        restarts=sum(s.restart_count for s in statuses), problem=pod_problem(pod),
        labels=dict(pod.metadata.labels or {}), uid=str(pod.metadata.uid or ""),
        owner=next((ref.name for ref in pod.metadata.owner_references or []), ""),
        created=str(pod.metadata.creation_timestamp or ""),
        started=frozenset(s.name for s in statuses if s.state and (s.state.running or s.state.terminated)))


def _selector(labels: dict[str, str] | None) -> str | None:
    return ",".join(f"{k}={v}" for k, v in (labels or {}).items()) or None


def workloads_in_manifest(manifest: str) -> list[Workload]:
    """Deployments and StatefulSets of a rendered release (`helm get manifest`)."""
    found = []
    for document in yaml.safe_load_all(manifest):
        if isinstance(document, dict) and document.get("kind") in ("Deployment", "StatefulSet"):
            found.append(Workload(document["kind"], document["metadata"]["name"]))
    return found


def pod_problem(pod: Any) -> str | None:
    if pod.metadata.deletion_timestamp:  # going away as asked: a SIGTERM exit (143) is no crash
        return None
    statuses = list(pod.status.init_container_statuses or []) + list(pod.status.container_statuses or [])
    for status in statuses:
        state = status.state
        if state and state.waiting and state.waiting.reason not in (None, "PodInitializing", "ContainerCreating"):
            return f"{status.name}: {state.waiting.reason}"
        if state and state.terminated and state.terminated.exit_code not in (0, None):
            return f"{status.name}: exited {state.terminated.exit_code} ({state.terminated.reason})"
        last = status.last_state.terminated if status.last_state else None
        if last and last.exit_code not in (0, None) and not status.ready:
            return f"{status.name}: last exit {last.exit_code} ({last.reason})"
    if pod.status.phase == "Pending":
        for condition in pod.status.conditions or []:
            if condition.type == "PodScheduled" and condition.status != "True":
                return f"unschedulable: {condition.message}"
    return None


class Kube:
    """One kubernetes API client for one context (no process-wide client configuration)."""

    def __init__(self, context: str, namespace: str) -> None:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        self.context = context
        self.namespace = namespace
        try:
            # The kubernetes client ships no type information.
            self.api_client = config.new_client_from_config(context=context)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise LabError(f"kube context {context!r} is not usable: {str(exc).splitlines()[0]}",
                           "list contexts with `kubectl config get-contexts`; for the lab's own cluster run `lab up`") from None
        # Any: the generated models type every field Optional; the API server fills the ones read here.
        self.core: Any = client.CoreV1Api(self.api_client)
        self.apps: Any = client.AppsV1Api(self.api_client)
        self.batch: Any = client.BatchV1Api(self.api_client)

    def _not_found(self, exc: Exception) -> bool:
        return getattr(exc, "status", None) == 404

    def namespace_exists(self) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.read_namespace(self.namespace)
            return True
        except ApiException as exc:
            if self._not_found(exc):
                return False
            raise

    def pods(self, selector: dict[str, str] | None = None) -> list[PodState]:
        items = self.core.list_namespaced_pod(self.namespace, label_selector=_selector(selector)).items
        return sorted((to_pod_state(pod) for pod in items), key=lambda p: p.name)

    def pods_by_age(self, selector: dict[str, str] | None = None) -> list[PodState]:
        """Pods, oldest first."""
        return sorted(self.pods(selector), key=lambda p: p.created)

    def workload_state(self, workload: Workload) -> WorkloadState | None:
        from kubernetes.client.exceptions import ApiException

        try:
            if workload.kind == "Deployment":
                obj = self.apps.read_namespaced_deployment(workload.name, self.namespace)
            else:
                obj = self.apps.read_namespaced_stateful_set(workload.name, self.namespace)
        except ApiException as exc:
            if self._not_found(exc):
                return None
            raise
        spec, status = obj.spec, obj.status
        desired = spec.replicas if spec.replicas is not None else 1
        observed = (status.observed_generation or 0) >= (obj.metadata.generation or 0)
        updated = status.updated_replicas or 0
        if workload.kind == "StatefulSet":
            rolled = status.update_revision is None or status.current_revision == status.update_revision \
                or updated >= desired
        else:
            rolled = updated >= desired and (status.replicas or 0) <= desired
        selector = dict(spec.selector.match_labels or {})
        pods = tuple(p for p in self.pods(selector))
        return WorkloadState(workload, desired, status.ready_replicas or 0, updated, observed and rolled, pods)

    def hook_jobs(self) -> list[HookJob]:
        jobs = []
        for job in self.batch.list_namespaced_job(self.namespace).items:
            annotations = job.metadata.annotations or {}
            if HOOK_ANNOTATION not in annotations:
                continue
            status = job.status
            failed_condition = next((c for c in status.conditions or [] if c.type == "Failed" and c.status == "True"),
                                    None)
            if (status.succeeded or 0) > 0:
                outcome = "succeeded"
            elif failed_condition is not None:
                outcome = "failed"
            else:
                outcome = "running"
            jobs.append(HookJob(job.metadata.name, annotations[HOOK_ANNOTATION], outcome,
                                str(status.start_time) if status.start_time else None,
                                str(status.completion_time) if status.completion_time else None,
                                failed_condition.message if failed_condition else ""))
        return sorted(jobs, key=lambda j: j.started or "")

    def events(self, *, field_selector: str | None = None, limit: int = 15) -> list[Event]:
        """The namespace's events (narrowed by a field selector), the `limit` most recent, oldest first."""
        items = self.core.list_namespaced_event(self.namespace, field_selector=field_selector).items
        return sorted((to_event(item) for item in items), key=lambda e: e.last_seen)[-limit:]

    def events_for(self, name: str, kind: str | None = None, limit: int = 10) -> list[Event]:
        selector = f"involvedObject.name={name}" + (f",involvedObject.kind={kind}" if kind else "")
        return self.events(field_selector=selector, limit=limit)

    def warning_events(self, limit: int = 15) -> list[Event]:
        return self.events(field_selector="type=Warning", limit=limit)

    def jobs(self, prefix: str = "") -> list[JobState]:
        """Jobs whose name starts with `prefix` (hooks included), oldest first."""
        items = self.batch.list_namespaced_job(self.namespace).items
        jobs = [JobState(job.metadata.name, dict(job.metadata.annotations or {}), job.status.succeeded or 0,
                         job.status.failed or 0, job.status.active or 0, str(job.metadata.creation_timestamp or ""))
                for job in items if job.metadata.name.startswith(prefix)]
        return sorted(jobs, key=lambda j: j.created)

    def job_containers(self, job: str) -> list[tuple[str, list[str]]]:
        """(pod, its containers, initContainers first) for every pod of a Job."""
        found = []
        for pod in self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={job}").items:
            containers = [c.name for c in (pod.spec.init_containers or [])] + [c.name for c in pod.spec.containers]
            found.append((str(pod.metadata.name), containers))
        return found

    def replica_sets(self, selector: dict[str, str]) -> list[str]:
        """`name (revision N)` of the ReplicaSets matching `selector`, sorted."""
        items = self.apps.list_namespaced_replica_set(self.namespace, label_selector=_selector(selector)).items
        return sorted(f"{rs.metadata.name} (revision {(rs.metadata.annotations or {}).get(REVISION_ANNOTATION, '?')})"
                      for rs in items)

    def current_pods(self, deployment: str, selector: dict[str, str]) -> set[str] | None:
        """Pods of the Deployment's current revision (its newest ReplicaSet), once the controller has
        seen the latest spec; None while it has not (or when there is no such Deployment)."""
        try:
            obj = self.apps.read_namespaced_deployment(deployment, self.namespace)
        except Exception:  # noqa: BLE001 -- missing or unreadable: "not known yet" either way
            return None
        if (obj.status.observed_generation or 0) < (obj.metadata.generation or 0):
            return None
        revision = (obj.metadata.annotations or {}).get(REVISION_ANNOTATION)
        sets = self.apps.list_namespaced_replica_set(self.namespace, label_selector=_selector(selector)).items
        current = next((rs for rs in sets if (rs.metadata.annotations or {}).get(REVISION_ANNOTATION) == revision), None)
        if current is None:
            return None
        template_hash = (current.metadata.labels or {}).get("pod-template-hash")
        return {p.name for p in self.pods(selector) if p.labels.get("pod-template-hash") == template_hash}

    def pod_logs(self, pod: str, container: str | None = None, tail_lines: int = 50, previous: bool = False) -> str:
        from kubernetes.client.exceptions import ApiException

        try:
            return str(self.core.read_namespaced_pod_log(pod, self.namespace, container=container, tail_lines=tail_lines,
                                                         previous=previous))
        except ApiException as exc:
            return f"(no logs: {exc.reason})"

    def delete_pods(self, selector: dict[str, str] | None = None) -> int:
        pods = self.pods(selector)
        for pod in pods:
            self.core.delete_namespaced_pod(pod.name, self.namespace)
        return len(pods)

    def wait_ready(self, workloads: Sequence[Workload], timeout: float,
                   on_progress: Callable[[list[WorkloadState | None], list[HookJob]], None] = lambda w, h: None,
                   interval: float = 2.0, stop: Callable[[], bool] = lambda: False) -> list[WorkloadState | None]:
        """Poll until every workload is healthy (or `stop()` says give up); progress after each poll."""
        deadline = time.monotonic() + timeout
        while True:
            states = [self.workload_state(w) for w in workloads]
            on_progress(states, self.hook_jobs())
            if all(s is not None and s.healthy for s in states):
                return states
            if stop() or time.monotonic() > deadline:
                return states
            time.sleep(interval)


    def wait_healthy(self, workload: Workload, timeout: float, *, fail_on_crash: bool = False,
                     interval: float = 3.0) -> tuple[bool, str]:
        """Poll one workload until healthy: (True, summary), or (False, summary) at the deadline or,
        with `fail_on_crash`, at the first pod that crashed (a problem after a restart)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.workload_state(workload)
            detail = "does not exist" if state is None else state.summary
            if state is not None and state.healthy:
                return True, detail
            if fail_on_crash and state is not None and any(p.problem and p.restarts > 0 for p in state.pods):
                return False, detail
            if time.monotonic() > deadline:
                return False, detail
            time.sleep(interval)

    def find_crash(self, selector: dict[str, str], container: str, needle: str | None = None, *,
                   exclude: Collection[str] = (), only: Collection[str] | None = None) -> Crash | None:
        """A pod whose `container` failed (restarted or exited non-zero), with its log lines (the
        previous container's too when it restarted). With `needle`, only a crash whose logs contain it;
        pods in `exclude` are ignored; with `only`, only those pods are considered."""
        for pod in self.pods(selector):
            if pod.name in exclude or (only is not None and pod.name not in only) or pod.ready or not pod.problem:
                continue
            texts = [self.pod_logs(pod.name, container, tail_lines=200, previous=True)] if pod.restarts > 0 else []
            texts.append(self.pod_logs(pod.name, container, tail_lines=200))
            # Right at a restart the kubelet may not serve a container's log yet: look again next time.
            readable = [text for text in texts if text.strip() and not text.startswith("(no logs")
                        and "unable to retrieve container logs" not in text]
            if not readable:
                continue
            logs = "\n".join(readable)
            if needle is None or needle in logs:
                return Crash(pod.name, pod.problem, logs)
        return None


@dataclass(frozen=True)
class Crash:
    """A pod whose container failed, with the log lines that say why."""

    pod: str
    problem: str
    logs: str


class LogFollower:
    """`with LogFollower(kube, kubectl, selector, container) as logs:` streams (`kubectl logs -f`) the
    `container` of every pod matching `selector` that starts during the block; after it, `logs` maps
    pod -> its log. For hook Jobs deleted as soon as they succeed (`hook-succeeded`)."""

    def __init__(self, kube: Kube, kubectl: Kubectl, selector: dict[str, str], container: str) -> None:
        self.kube = kube
        self.kubectl = kubectl
        self.selector = selector
        self.container = container
        self.logs: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> dict[str, str]:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self.logs

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def _run(self) -> None:
        followers: dict[str, subprocess.Popen[str]] = {}
        while not self._stop.is_set():
            try:
                pods = self.kube.pods(self.selector)
            except Exception:  # noqa: BLE001 -- the API is busy: try again at the next poll
                pods = []
            for pod in pods:
                # Not before the container started: `logs -f` refuses a pod still in its initContainers.
                if pod.name not in followers and self.container in pod.started:
                    followers[pod.name] = self.kubectl.follow_logs(pod.name, self.container)
            self._stop.wait(0.5)
        for name, process in followers.items():
            try:
                out, _ = process.communicate(timeout=10)  # a finished container ends its `logs -f`
            except subprocess.TimeoutExpired:
                process.kill()
                out, _ = process.communicate()
            self.logs[name] = out or ""


def free_local_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Kubectl:
    """kubectl for one context and namespace, through the runner: what streams (exec, logs -f,
    port-forward) or reads stdin (apply), which the Python client does not do as a human would."""

    def __init__(self, runner: Runner, context: str, namespace: str) -> None:
        self.runner = runner
        self.context = context
        self.namespace = namespace

    def argv(self, *args: str, namespaced: bool = True) -> list[str]:
        return ["kubectl", "--context", self.context, *(["-n", self.namespace] if namespaced else []), *args]

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = DEFAULTS.kubectl,
            namespaced: bool = True) -> CommandResult:
        return self.runner.run(self.argv(*args, namespaced=namespaced), input=input, check=check, timeout=timeout)

    def exec_argv(self, pod: str, command: Sequence[str], *, container: str | None = None,
                  interactive: bool = False) -> list[str]:
        """`kubectl exec -i[t] POD [-c CONTAINER] -- COMMAND...` (stdin carries SQL and passwords)."""
        return self.argv("exec", "-it" if interactive else "-i", pod, *(["-c", container] if container else []),
                         "--", *command)

    def namespace_exists(self) -> bool:
        return self.run("get", "namespace", self.namespace, namespaced=False, check=False,
                        timeout=DEFAULTS.query).returncode == 0

    def create_namespace(self) -> None:
        self.run("create", "namespace", self.namespace, namespaced=False, timeout=DEFAULTS.query)

    def delete_namespace(self, *, wait: bool = True) -> None:
        """Delete the namespace and all in it; `wait=False` only starts it (see `wait_namespace_gone`)."""
        if not wait:
            self.run("delete", "namespace", self.namespace, "--wait=false", namespaced=False, timeout=DEFAULTS.query)
            return
        seconds = int(DEFAULTS.namespace_delete)
        self.run("delete", "namespace", self.namespace, "--wait=true", f"--timeout={seconds}s", namespaced=False,
                 timeout=seconds + 30)

    def namespace_terminating(self) -> bool:
        found = self.get_json("namespace", self.namespace)
        return bool(found and found.get("metadata", {}).get("deletionTimestamp"))

    def wait_namespace_gone(self, timeout: float) -> bool:
        """Wait (bounded) for a namespace being deleted to disappear; True once it is gone."""
        result = self.run("wait", "--for=delete", f"namespace/{self.namespace}", f"--timeout={int(timeout)}s",
                          namespaced=False, check=False, timeout=timeout + 30)
        return result.returncode == 0

    def apply(self, manifest: dict[str, Any]) -> CommandResult:
        """`kubectl apply -f -` with the manifest on stdin (a Secret's value never reaches argv)."""
        return self.run("apply", "-f", "-", input=json.dumps(manifest), timeout=DEFAULTS.query)

    def get_json(self, *args: str) -> dict[str, Any] | None:
        result = self.run("get", *args, "-o", "json", check=False, timeout=DEFAULTS.query)
        return dict(json.loads(result.stdout)) if result.returncode == 0 else None

    def jsonpath(self, ref: str, path: str) -> str:
        return self.run("get", ref, "-o", f"jsonpath={path}").stdout

    def rollout_restart(self, ref: str) -> None:
        self.run("rollout", "restart", ref, timeout=DEFAULTS.query)

    def rollout_status(self, ref: str, timeout: float) -> None:
        """Wait for the rollout; kubectl gets `timeout`, its process a little more."""
        self.run("rollout", "status", ref, f"--timeout={int(timeout)}s", timeout=timeout + DEFAULTS.query)

    def wait_pods_ready(self, selector: str, timeout: float) -> None:
        self.run("wait", "--for=condition=ready", "pod", "-l", selector, f"--timeout={int(timeout)}s",
                 timeout=timeout + 30)

    def delete_all(self, kind: str, timeout: float) -> CommandResult:
        return self.run("delete", kind, "--all", "--wait=true", f"--timeout={int(timeout)}s", timeout=timeout + 30)

    def follow_logs(self, pod: str, container: str) -> subprocess.Popen[str]:
        """`kubectl logs -f`: ends when the container does."""
        return self.runner.start(self.argv("logs", "-f", pod, "-c", container))

    @contextmanager
    def port_forward(self, target: str, remote_port: int, timeout: float = DEFAULTS.port_forward) -> Iterator[int]:
        """`kubectl port-forward` to a pod/service; yields the local port."""
        with self.port_forwards(target, (remote_port,), timeout) as forward:
            yield forward.ports[remote_port]

    @contextmanager
    def port_forwards(self, target: str, remote_ports: Sequence[int], timeout: float = DEFAULTS.port_forward,
                      pod_running_timeout: float | None = None) -> Iterator[PortForward]:
        """One `kubectl port-forward` of several ports of a pod/service; yields it once every port is
        forwarded. kubectl's output (a line per connection, an error line per failed one) is drained
        in the background: a full pipe would block kubectl and with it every forwarded connection."""
        ports = {remote: free_local_port() for remote in remote_ports}
        waiting = ([f"--pod-running-timeout={max(1, int(pod_running_timeout))}s"]
                   if pod_running_timeout is not None else [])
        process = self.runner.start(self.argv("port-forward", target, *(f"{local}:{remote}" for remote, local in ports.items()),
                                              "--address", "127.0.0.1", *waiting))
        with _announced(process, "Forwarding from", len(ports), timeout, f"port-forward to {target}"):
            yield PortForward(ports, process)

    @contextmanager
    def service_proxy(self, timeout: float = DEFAULTS.port_forward) -> Iterator[ServiceProxy]:
        """One `kubectl proxy` on a free local port, yielded once it serves. Through it the API server's
        service proxy picks one of a Service's ready endpoints on every request (as kube-proxy does for
        the Service's clients): a rolling update is seen as they see it, where a port-forward stays
        pinned to one pod and ends with it."""
        port = free_local_port()
        process = self.runner.start(self.argv("proxy", f"--port={port}", "--address=127.0.0.1", namespaced=False))
        with _announced(process, "Starting to serve on", 1, timeout, "kubectl proxy"):
            yield ServiceProxy(f"http://127.0.0.1:{port}", self.namespace, process)


@contextmanager
def _announced(process: subprocess.Popen[str], marker: str, count: int, timeout: float, what: str) -> Iterator[None]:
    """A background kubectl (port-forward, proxy) once it printed `marker` `count` times (one line per
    port it serves), stopped when the block ends; a LabError when it exits or stays silent first."""
    try:
        deadline = time.monotonic() + timeout
        assert process.stdout is not None
        announced = 0
        while announced < count and time.monotonic() < deadline:
            line = process.stdout.readline()
            if marker in (line or ""):
                announced += 1
            elif process.poll() is not None:
                error = process.stderr.read() if process.stderr else ""
                raise LabError(f"{what} failed: {error.strip()}")
        if announced < count:
            raise LabError(f"{what} did not start within {timeout:.0f}s")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


class PortForward:
    """A running `kubectl port-forward`: remote port -> local port; `alive` until kubectl exits
    (it does when the pod it forwards to goes away)."""

    def __init__(self, ports: dict[int, int], process: subprocess.Popen[str]) -> None:
        self.ports = ports
        self.process = process
        self.errors: list[str] = []  # kubectl's last error lines
        for stream, keep in ((process.stdout, False), (process.stderr, True)):
            if stream is not None:
                threading.Thread(target=self._drain, args=(stream, keep), daemon=True).start()

    def _drain(self, stream: Any, keep: bool) -> None:
        for line in stream:
            if keep and line.strip():
                self.errors = [*self.errors[-4:], line.strip()]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class ServiceProxy:
    """A running `kubectl proxy`: URLs of a Service's ports through the API server's service proxy;
    `alive` until kubectl exits. Its output (a line at start) is drained in the background."""

    def __init__(self, base: str, namespace: str, process: subprocess.Popen[str]) -> None:
        self.base = base
        self.namespace = namespace
        self.process = process
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                threading.Thread(target=lambda s=stream: [None for _ in s], daemon=True).start()

    def url(self, service: str, port: int, path: str) -> str:
        return f"{self.base}/api/v1/namespaces/{self.namespace}/services/{service}:{port}/proxy{path}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def kube_contexts(runner: Runner) -> list[str]:
    """The context names of this user's kubeconfig."""
    return runner.run(KUBECTL_CONTEXTS_ARGV, check=False, timeout=DEFAULTS.query).stdout.split()


def api_readyz(runner: Runner, context: str, timeout: int = 20) -> CommandResult:
    """`kubectl get --raw /readyz` of a context: "ok" when its API server answers and is ready."""
    return runner.run(["kubectl", "--context", context, "get", "--raw", "/readyz", f"--request-timeout={timeout}s"],
                      timeout=timeout + 5, check=False)


KUBECTL_CONTEXTS_ARGV = ["kubectl", "config", "get-contexts", "-o", "name"]
KUBECTL_CLIENT_VERSION_ARGV = ["kubectl", "version", "--client"]


# kubectl command lines the CLI hands to a user or runs interactively, assembled here like every other.
def logs_argv(context: str, namespace: str, target: str, *, follow: bool = False, tail: int = 200) -> list[str]:
    """`kubectl logs` of every container of `target` (`deployment/x`, `job/y`), each line prefixed."""
    argv = ["kubectl", "--context", context, "-n", namespace, "logs", f"--tail={tail}", "--all-containers", "--prefix"]
    return [*argv, "--follow", target] if follow else [*argv, target]


def port_forward_command(context: str, namespace: str, target: str, local_port: int, remote_port: int) -> str:
    return f"kubectl --context {context} -n {namespace} port-forward {target} {local_port}:{remote_port}"


def secret_value_command(context: str, namespace: str, secret: str, key: str) -> str:
    """How a user prints one Secret value themselves (the lab never prints it)."""
    return (f"kubectl --context {context} -n {namespace} get secret {secret} "
            f"-o jsonpath='{{.data.{key}}}' | base64 -d; echo")
