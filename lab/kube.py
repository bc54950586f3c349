"""Cluster state through the kubernetes Python client: workloads, pods, hook Jobs, events, waits.
exec, logs and port-forward go through kubectl (via the runner): they stream to the terminal."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml

from lab.errors import LabError
from lab.runner import Runner

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


def workloads_in_manifest(manifest: str) -> list[Workload]:
    """Deployments and StatefulSets of a rendered release (`helm get manifest`)."""
    found = []
    for document in yaml.safe_load_all(manifest):
        if isinstance(document, dict) and document.get("kind") in ("Deployment", "StatefulSet"):
            found.append(Workload(document["kind"], document["metadata"]["name"]))
    return found


def pod_problem(pod: Any) -> str | None:
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
            self.api_client = config.new_client_from_config(context=context)
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
        label_selector = ",".join(f"{k}={v}" for k, v in (selector or {}).items()) or None
        items = self.core.list_namespaced_pod(self.namespace, label_selector=label_selector).items
        states = []
        for pod in items:
            statuses = pod.status.container_statuses or []
            ready_count = sum(1 for s in statuses if s.ready)
            states.append(PodState(
                name=pod.metadata.name, phase=pod.status.phase or "Unknown",
                ready=bool(statuses) and ready_count == len(statuses) and not pod.metadata.deletion_timestamp,
                containers_ready=f"{ready_count}/{len(pod.spec.containers)}",
                restarts=sum(s.restart_count for s in statuses), problem=pod_problem(pod),
                labels=dict(pod.metadata.labels or {})))
        return sorted(states, key=lambda p: p.name)

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

    def events_for(self, name: str, kind: str | None = None, limit: int = 10) -> list[Event]:
        selector = f"involvedObject.name={name}" + (f",involvedObject.kind={kind}" if kind else "")
        items = self.core.list_namespaced_event(self.namespace, field_selector=selector).items
        events = [Event(e.type or "", e.reason or "", f"{e.involved_object.kind}/{e.involved_object.name}",
                        (e.message or "").strip(), e.count or 1, str(e.last_timestamp or e.event_time or ""))
                  for e in items]
        return sorted(events, key=lambda e: e.last_seen)[-limit:]

    def warning_events(self, limit: int = 15) -> list[Event]:
        items = self.core.list_namespaced_event(self.namespace, field_selector="type=Warning").items
        events = [Event(e.type or "", e.reason or "", f"{e.involved_object.kind}/{e.involved_object.name}",
                        (e.message or "").strip(), e.count or 1, str(e.last_timestamp or e.event_time or ""))
                  for e in items]
        return sorted(events, key=lambda e: e.last_seen)[-limit:]

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

    def secret_exists(self, name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.read_namespaced_secret(name, self.namespace)
            return True
        except ApiException as exc:
            if self._not_found(exc):
                return False
            raise

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


def free_local_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def port_forward(runner: Runner, context: str, namespace: str, target: str, remote_port: int,
                 timeout: float = 30) -> Iterator[int]:
    """`kubectl port-forward` to a pod/service; yields the local port."""
    local_port = free_local_port()
    process = runner.start(["kubectl", "--context", context, "-n", namespace, "port-forward", target,
                            f"{local_port}:{remote_port}", "--address", "127.0.0.1"])
    try:
        deadline = time.monotonic() + timeout
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if re.search(r"Forwarding from", line or ""):
                break
            if process.poll() is not None:
                error = process.stderr.read() if process.stderr else ""
                raise LabError(f"port-forward to {target} failed: {error.strip()}")
        else:
            raise LabError(f"port-forward to {target} did not start within {timeout:.0f}s")
        yield local_port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except Exception:
            process.kill()


# (i13-cli) kubectl command lines the CLI hands to a user or runs interactively, assembled here like every other.
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
