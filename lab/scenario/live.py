"""The real `ScenarioContext`: one scenario's namespace and release `rhdemo-<id>` on the lab's cluster.

A small composition of the lab's typed cluster layer, shaped as `lab.scenario.ops.ClusterOps` for the
scenario operations:

    helm       ScenarioRelease    lab.helm.Helm bound to the release, with the lab's values added
    workloads  ScenarioWorkloads  lab.kube.Kube + Kubectl, by component name
    db         ScenarioDatabases  lab.database.DatabasePod of each database's ready pod
    app        lab.app.AppClient  HTTP through a port-forward of service/rhdemo-app

plus the engine's protocol (`prepare`, `teardown`, `data_snapshot`, `health`, `diagnostics`,
`probe_availability`, `mask`).
`prepare()` converges the cluster and images once per run, exactly like `lab up` steps 1-2.

Values reach helm as a private file (never `--set`), in this order: the image set's file, the image
set's values, what the lab sets for a scenario (namespace, app image, Keycloak off, ClusterIP), then
the scenario's own values. Each call gives its complete scenario values: nothing is carried over from
an earlier revision, exactly like a plain `helm upgrade` (no --reuse-values).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lab import images as images_mod
from lab.app import AppClient, AvailabilityProbe
from lab.config import LabConfig
from lab.database import DatabasePod
from lab.errors import LabError
from lab.helm import Helm, HelmRun, deep_merge, secret_values, values_file
from lab.kube import Crash, JobState, Kube, Kubectl, LogFollower, PodState, Workload, WorkloadState
from lab.runner import CommandError, Runner, mask_text
from lab.scenario.model import LOG, OUTPUT, STATUS, DataSnapshot, Evidence, Health, Scenario
from lab.scenario.ops import ClusterOps
from lab.stack import Stack, diagnose
from lab.timeouts import DEFAULTS

# The workloads a scenario release can have, by the component names scenarios use.
WORKLOADS: dict[str, Workload] = {
    "rhdemo-app": Workload("Deployment", "rhdemo-app"),
    "postgresql-rhdemo": Workload("StatefulSet", "postgresql-rhdemo"),
    "postgresql-keycloak": Workload("StatefulSet", "postgresql-keycloak"),
    "keycloak": Workload("Deployment", "keycloak"),
}
DATABASES = {"rhdemo": "postgresql-rhdemo", "keycloak": "postgresql-keycloak"}


def main_container(component: str) -> str:
    return {"postgresql-rhdemo": "postgresql", "postgresql-keycloak": "postgresql"}.get(component, component)


class ScenarioRelease:
    """The scenario's release through `lab.helm.Helm`; failures are `HelmRun` results."""

    def __init__(self, context: LiveContext, helm: Helm) -> None:
        self.context = context
        self.helm = helm

    def upgrade(self, values: Mapping[str, Any], *, timeout: float, app_release: str = "1.0", wait: bool = True,
                atomic: bool = False) -> HelmRun:
        for secret in secret_values(values):
            self.context.runner.register_secret(secret)
        set_files, _ = images_mod.image_set_values(self.context.config)
        with values_file(self.context.helm_values(values, app_release)) as path:
            return self.helm.attempt_upgrade(self.context.release, self.context.config.chart_path, [*set_files, path],
                                             timeout=timeout, wait=wait, atomic=atomic)

    def rollback(self, revision: int | None = None, *, timeout: float) -> HelmRun:
        return self.helm.attempt_rollback(self.context.release, revision, timeout=timeout)

    def test(self, *, timeout: float, logs: bool = True) -> HelmRun:
        return self.helm.attempt_test(self.context.release, timeout=timeout, logs=logs)

    def history(self) -> list[dict[str, Any]]:
        return self.helm.history(self.context.release)

    def uninstall(self, timeout: float) -> None:
        self.helm.uninstall(self.context.release, timeout=int(timeout))


class ScenarioWorkloads:
    """Pods, logs, events, Jobs and waits of the scenario's namespace, by component (`app=<component>`)."""

    def __init__(self, kube: Callable[[], Kube], kubectl: Kubectl) -> None:
        self._kube = kube
        self.kubectl = kubectl

    @property
    def kube(self) -> Kube:
        return self._kube()

    def pods(self, component: str) -> list[PodState]:
        return self.kube.pods({"app": component})

    def pod_names(self, component: str) -> list[str]:
        return [pod.name for pod in self.kube.pods_by_age({"app": component})]

    def pod_logs(self, pod: str, container: str | None = None, *, previous: bool = False, tail: int = 200) -> str:
        return self.kube.pod_logs(pod, container, tail_lines=tail, previous=previous)

    def logs(self, component: str, container: str | None = None, *, tail: int = 200) -> list[Evidence]:
        found = []
        name = container or main_container(component)
        for pod in self.pods(component):
            found.append(Evidence(LOG, f"pod/{pod.name}/{name}", self.pod_logs(pod.name, name, tail=tail)))
            if pod.restarts > 0:
                found.append(Evidence(LOG, f"pod/{pod.name}/{name} (previous)",
                                      self.pod_logs(pod.name, name, previous=True, tail=tail)))
        return found

    def events(self, *, warnings_only: bool = False, limit: int = 15) -> list[Evidence]:
        events = self.kube.warning_events(limit=limit) if warnings_only else self.kube.events(limit=limit)
        return [Evidence.event(object=e.object, reason=e.reason, message=e.message, type=e.type) for e in events]

    def jobs(self, prefix: str = "") -> list[JobState]:
        return self.kube.jobs(prefix)

    def job_logs(self, job: str, tail: int = 100) -> list[Evidence]:
        return [Evidence(LOG, f"job/{job} pod/{pod}/{container}", self.pod_logs(pod, container, tail=tail))
                for pod, containers in self.kube.job_containers(job) for container in containers]

    def current_pods(self, component: str) -> set[str] | None:
        return self.kube.current_pods(component, {"app": component})

    def find_crash(self, component: str, needle: str | None = None, *, exclude: Collection[str] = (),
                   only: Collection[str] | None = None) -> Crash | None:
        return self.kube.find_crash({"app": component}, main_container(component), needle, exclude=exclude, only=only)

    def wait_healthy(self, component: str, timeout: float, *, fail_on_crash: bool = False) -> tuple[bool, str]:
        return self.kube.wait_healthy(WORKLOADS[component], timeout, fail_on_crash=fail_on_crash)

    def replica_sets(self, component: str) -> list[str]:
        return self.kube.replica_sets({"app": component})

    @contextmanager
    def follow_logs(self, selector: Mapping[str, str], container: str) -> Iterator[dict[str, str]]:
        with LogFollower(self.kube, self.kubectl, dict(selector), container) as logs:
            yield logs

    def apply_secret(self, name: str, password: str, key: str = "password") -> str:
        """The seed's Test 3 (`kubectl create secret ... --dry-run=client -o yaml | kubectl apply -f -`),
        the manifest on stdin: the password never reaches argv."""
        self.kubectl.runner.register_secret(password)
        manifest = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": name, "namespace": self.kubectl.namespace}, "stringData": {key: password}}
        return self.kubectl.apply(manifest).stdout

    def statefulsets(self) -> list[str]:
        listing = self.kubectl.get_json("statefulsets") or {"items": []}
        return [item["metadata"]["name"] for item in listing.get("items", [])]

    def image_of(self, deployment: str) -> str:
        return self.kubectl.jsonpath(f"deployment/{deployment}", "{.spec.template.spec.containers[0].image}")

    def restart(self, deployment: str, timeout: float) -> None:
        self.kubectl.rollout_restart(f"deployment/{deployment}")
        self.kubectl.rollout_status(f"deployment/{deployment}", timeout)

    def wait_pods_ready(self, component: str, timeout: float) -> None:
        self.kubectl.wait_pods_ready(f"app={component}", timeout)

    def delete_jobs(self, timeout: float) -> str:
        return self.kubectl.delete_all("jobs", timeout).stdout

    def readable_texts(self) -> dict[str, str]:
        texts: dict[str, str] = {}
        listing = self.kubectl.get_json("configmaps,pods,deployments,statefulsets,jobs") or {"items": []}
        for item in listing.get("items", []):
            texts[f"{item['kind']}/{item['metadata']['name']}"] = json.dumps(item, ensure_ascii=False)
            if item["kind"] == "Pod":
                spec = item.get("spec", {})
                for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
                    source = f"log pod/{item['metadata']['name']}/{container['name']}"
                    texts[source] = self.kube.pod_logs(item["metadata"]["name"], container["name"], tail_lines=100_000)
        return texts


class ScenarioDatabases:
    """The scenario's databases ("rhdemo", "keycloak"), through their ready pod."""

    def __init__(self, kube: Callable[[], Kube], runner: Runner, context: str, namespace: str) -> None:
        self._kube = kube
        self.runner = runner
        self.context = context
        self.namespace = namespace

    def pod(self, database: str = "rhdemo", *, wait: float = DEFAULTS.database_ready,
            missing_ok: bool = False) -> DatabasePod | None:
        """The database's pod once ready (bounded wait: it may be restarting). None when its
        StatefulSet does not exist and `missing_ok`."""
        statefulset = DATABASES[database]
        deadline = time.monotonic() + wait
        while True:
            state = self._kube().workload_state(Workload("StatefulSet", statefulset))
            if state is None and missing_ok:
                return None
            ready = next((p.name for p in (state.pods if state else ()) if p.ready), None)
            if ready is not None:
                return DatabasePod(self.runner, self.context, self.namespace, ready)
            if time.monotonic() > deadline:
                summary = "missing" if state is None else state.summary
                raise LabError(f"statefulset/{statefulset} has no ready pod after {wait:.0f}s ({summary})")
            time.sleep(2)

    def _ready_pod(self, database: str) -> DatabasePod:
        pod = self.pod(database)
        assert pod is not None  # missing_ok=False: raises instead
        return pod

    def sql(self, database: str, query: str) -> list[str]:
        return self._ready_pod(database).query(query)

    def can_login(self, database: str, user: str, password: str) -> tuple[bool, str]:
        """Not through a port-forward: its connections arrive from 127.0.0.1 inside the pod, which initdb's
        default pg_hba trusts (a PGDATA initialised without the chart's initdbArgs), so any password would "work"."""
        return self._ready_pod(database).can_login(DATABASES[database], user, database, password)


class LiveContext:
    """One scenario's context on the real cluster."""

    def __init__(self, scenario_id: str, base_config: LabConfig, runner: Runner,
                 prepared: _PreparedCluster) -> None:
        self.scenario_id = scenario_id
        self.namespace = f"rhdemo-{scenario_id}"
        self.release = self.namespace
        self.config: LabConfig = dataclasses.replace(base_config, namespace=self.namespace, release=self.release)
        self.image_set = str(base_config.image_set)
        self.step_timeout = 300.0
        self.runner = runner
        self._prepared = prepared
        self._kube: Kube | None = None
        self.kubectl = Kubectl(runner, self.config.context, self.namespace)
        self.helm = ScenarioRelease(self, Helm(runner, self.config.context, self.namespace))
        self.workloads = ScenarioWorkloads(lambda: self.kube, self.kubectl)
        self.db = ScenarioDatabases(lambda: self.kube, runner, self.config.context, self.namespace)
        self.app = AppClient(self.kubectl)

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = Kube(self.config.context, self.namespace)
        return self._kube

    # ---- the engine's protocol -----------------------------------------------------------------
    def prepare(self) -> None:
        self._prepared.ensure()
        self._remove_leftovers()
        self.kubectl.create_namespace()

    def teardown(self) -> None:
        """Start deleting the namespace (the release, its PVCs, everything in it) and return: the next
        scenario does not wait for it; the run awaits every deletion once at the end (`settle`)."""
        self.kubectl.delete_namespace(wait=False)
        self._prepared.deleting.append(self.kubectl)

    def _remove_leftovers(self) -> None:
        if not self.kubectl.namespace_exists():
            return
        if self.kubectl.namespace_terminating():  # an earlier run's teardown still under way
            if not self.kubectl.wait_namespace_gone(DEFAULTS.namespace_delete):
                raise LabError(f"namespace {self.namespace} is still being deleted after "
                               f"{DEFAULTS.namespace_delete:.0f}s", f"see `kubectl get namespace {self.namespace} -o yaml`")
            return
        if self.helm.helm.current(self.release) is not None:
            # helm uninstall may hang on a pending hook of an earlier run: the namespace deletion below
            # removes everything anyway.
            try:
                self.helm.uninstall(DEFAULTS.uninstall)
            except CommandError:
                pass
        self.kubectl.delete_namespace()

    def data_snapshot(self) -> DataSnapshot | None:
        pod = self.db.pod("rhdemo", missing_ok=True)
        if pod is None:
            return None
        stats = pod.employes_stats()
        return None if stats is None else DataSnapshot(stats.rows, stats.checksum)

    def health(self, component: str) -> Health:
        workload = WORKLOADS.get(component)
        if workload is None:
            return Health(False, f"unknown component {component!r} (known: {', '.join(WORKLOADS)})")
        state = self.kube.workload_state(workload)
        # Serving = the latest spec rolled out and enough ready replicas; a pod still terminating after
        # a restart does not count against it. A transient state gets a few seconds to settle.
        deadline = time.monotonic() + DEFAULTS.health_settle
        while state is not None and not _serving(state) and time.monotonic() < deadline:
            time.sleep(2)
            state = self.kube.workload_state(workload)
        if state is None:
            return Health(False, f"{workload.ref} does not exist")
        status = Evidence(STATUS, workload.ref, state.summary)
        if not _serving(state):
            return Health(False, f"{workload.ref}: {state.summary}", [status])
        if component == "rhdemo-app":
            try:
                answer = self.app.request("GET", "/actuator/health", port=9000)
            except LabError as error:
                return Health(False, f"{workload.ref} ready but actuator unreachable: {error.message}", [status])
            shown = Evidence(OUTPUT, "GET :9000/actuator/health", f"HTTP {answer.status} {answer.body[:300]}")
            up = answer.status == 200 and '"status":"UP"' in answer.body.replace(" ", "")
            return Health(up, f"{state.summary}, actuator HTTP {answer.status}" + (" UP" if up else ""), [status, shown])
        return Health(True, state.summary, [status])

    def diagnostics(self) -> Sequence[Evidence]:
        found: list[Evidence] = []
        try:
            found.extend(self.workloads.events(warnings_only=True, limit=12))
            workloads = list(WORKLOADS.values())
            states = [self.kube.workload_state(w) for w in workloads]
            present = [(w, s) for w, s in zip(workloads, states, strict=True) if s is not None]
            lines = diagnose(self.kube, [w for w, _ in present], [s for _, s in present])
            if lines:
                found.append(Evidence(STATUS, f"namespace {self.namespace}", "\n".join(lines)))
            pods = self.kube.pods()
            found.append(Evidence(STATUS, "pods", "\n".join(
                f"{p.name} {p.containers_ready} {p.phase} restarts={p.restarts} {p.problem or ''}".rstrip()
                for p in pods) or "(no pods)"))
        except Exception as error:  # noqa: BLE001 -- best effort: never hide the deviation itself
            found.append(Evidence(STATUS, "diagnostics", f"could not collect: {type(error).__name__}: {error}"))
        return found

    def probe_availability(self) -> AvailabilityProbe:
        return self.app.probe()

    def mask(self, text: str) -> str:
        return mask_text(text, self.runner.secrets)

    # ---- values --------------------------------------------------------------------------------
    def _app_image(self, release: str) -> images_mod.AppImage:
        """The stub image of app release 1.0 / 1.1 (content-hashed tag, built and loaded by prepare;
        fixed for the whole run even if app-stub/ changes meanwhile)."""
        image = self._prepared.app_images().get(release)
        if image is None:
            raise LabError(f"no app release {release!r}", f"built releases: {', '.join(self.config.app_releases)}")
        return image

    def base_values(self, app_release: str = "1.0") -> dict[str, Any]:
        """What the lab sets in every scenario release: namespace, app image, Keycloak off, no NodePort."""
        _, set_values = images_mod.image_set_values(self.config)
        lab = {"global": {"namespace": self.namespace}, "keycloak": {"enabled": False},
               "rhdemo": {"service": {"type": "ClusterIP"}}}
        return deep_merge(deep_merge(set_values, lab), images_mod.app_image_values(self._app_image(app_release)))

    def helm_values(self, values: Mapping[str, Any], app_release: str = "1.0") -> dict[str, Any]:
        """The complete values of a revision (a test may override this to break a fix on purpose)."""
        return deep_merge(self.base_values(app_release), values)


def _serving(state: WorkloadState) -> bool:
    return bool(state.up_to_date and state.ready >= state.desired)


class _PreparedCluster:
    """The cluster and images, converged once per process like `lab up` steps 1-2 (cluster, build
    what is missing, load what the node lacks)."""

    def __init__(self, config: LabConfig, runner: Runner) -> None:
        self.config = config
        self.runner = runner
        self.done = False
        self._lock = threading.Lock()  # scenarios running at once (--jobs) converge the cluster once
        self._app_images: dict[str, images_mod.AppImage] | None = None
        self.deleting: list[Kubectl] = []  # namespaces whose deletion was started, not yet awaited

    def app_images(self) -> dict[str, images_mod.AppImage]:
        """The app images of this run, by release, computed once (their tags are content hashes)."""
        if self._app_images is None:
            self._app_images = {image.release: image for image in images_mod.app_images(self.config)}
        return self._app_images

    def ensure(self) -> None:
        with self._lock:
            if self.done:
                return
            # The same steps 1-2 as `lab up` (quietly): the scenarios then install their own releases.
            stack = Stack(self.config, self.runner)
            stack.ensure_cluster()
            stack.ensure_images(list(self.app_images().values()))
            self.done = True


class LiveContextFactory:
    """`(Scenario) -> LiveContext`: one context per scenario, sharing the runner (and its secret mask)
    and the once-per-run cluster/images convergence."""

    def __init__(self, config: LabConfig, runner: Runner) -> None:
        self.config = config
        self.runner = runner
        self.prepared = _PreparedCluster(config, runner)
        self.made: dict[str, LiveContext] = {}

    def __call__(self, scenario: Scenario) -> LiveContext:
        context = LiveContext(scenario.id, self.config, self.runner, self.prepared)
        self.made[scenario.id] = context
        return context

    def settle(self, timeout: float = DEFAULTS.namespace_delete) -> list[str]:
        """Await, once and within `timeout` in all, the namespace deletions the run started; the
        namespaces still there (a warning for the user, not a verdict on the scenarios)."""
        deadline = time.monotonic() + timeout
        left: list[str] = []
        while self.prepared.deleting:
            kubectl = self.prepared.deleting.pop(0)
            if not kubectl.wait_namespace_gone(max(1.0, deadline - time.monotonic())):
                left.append(kubectl.namespace)
        return left


if TYPE_CHECKING:
    def _live_context_runs_operations(context: LiveContext) -> ClusterOps:
        return context  # mypy checks here that LiveContext still has every piece the operations use
