"""The real `ScenarioContext`: one scenario's namespace and release `rhdemo-<id>` on the lab's cluster.

Wired to the rest of `lab/`: `LabConfig` (one per scenario: namespace and release replaced), the
`Runner` (every command masked and timed; passwords registered as secrets), `Cluster` + `images` for
`prepare()` (the same convergence `lab up` does for the cluster and the images), `Helm`, `Kube` and
`DatabasePod`. Actions (`scenarios/_actions.py`) call the helpers below; the engine only relies on
the protocol of `lab.scenario.context`.

Values reach helm as a private file (never `--set`), in this order: the image set's file, the image
set's values, what the lab sets for a scenario (namespace, app image, Keycloak off, ClusterIP), then
the scenario's own values. Each call gives its complete scenario values: nothing is carried over from
an earlier revision, exactly like a plain `helm upgrade` (no --reuse-values).
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from lab import images as images_mod
from lab.config import LabConfig
from lab.database import DatabasePod, EMPLOYES_STATS_SQL, TABLE_EXISTS_SQL, parse_stats
from lab.errors import LabError
from lab.helm import Helm, deep_merge, values_file
from lab.kube import Kube, Workload, port_forward, workloads_in_manifest
from lab.runner import CommandError, CommandResult, Runner, mask_text
from lab.scenario.model import LOG, OUTPUT, SQL, STATUS, DataSnapshot, Evidence, Health, Scenario
from lab.stack import Stack, diagnose

# The workloads a scenario release can have, by the component names scenarios use.
WORKLOADS: dict[str, Workload] = {
    "rhdemo-app": Workload("Deployment", "rhdemo-app"),
    "postgresql-rhdemo": Workload("StatefulSet", "postgresql-rhdemo"),
    "postgresql-keycloak": Workload("StatefulSet", "postgresql-keycloak"),
    "keycloak": Workload("Deployment", "keycloak"),
}
DATABASES = {"rhdemo": "postgresql-rhdemo", "keycloak": "postgresql-keycloak"}
# Texts helm prints when its --timeout ran out (helm 3 and 4).
HELM_TIMEOUT_TEXTS = ("context deadline exceeded", "timed out waiting for the condition", "timed out waiting")
# Seconds kept for collecting evidence after a helm --timeout inside the step's budget.
_EVIDENCE_MARGIN = 20


@dataclass(frozen=True)
class HelmRun:
    """One helm command's result: never raises on helm's own failure (a failure may be the expectation)."""

    ok: bool
    command: str        # masked, for the report
    output: str         # stdout + stderr, masked
    seconds: float
    timed_out: bool = False

    def evidence(self) -> Evidence:
        # The chart's NOTES are for humans installing by hand: the report keeps helm's own lines.
        text = self.output.split("\nNOTES:")[0].strip()
        return Evidence(OUTPUT, self.command.split(" --values")[0][:120], text or "(no output)")


@dataclass(frozen=True)
class Crash:
    """A pod of a component whose container failed, with the log lines that say why."""

    pod: str
    problem: str
    logs: str


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
        self.helm = Helm(runner, self.config.context, self.namespace)
        self._kube: Kube | None = None

    # ---- clients -------------------------------------------------------------------------------
    @property
    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = Kube(self.config.context, self.namespace)
        return self._kube

    @property
    def chart(self) -> str:
        return str(self.config.chart_path)

    def remaining(self, started: float, budget: float | None = None) -> float:
        """Seconds left of `budget` (default: the step's) since `started` (time.monotonic())."""
        return max(1.0, (budget or self.step_timeout) - (time.monotonic() - started))

    # ---- the protocol --------------------------------------------------------------------------
    def prepare(self) -> None:
        self._prepared.ensure()
        self._remove_leftovers()
        self.kubectl("create", "namespace", self.namespace, namespaced=False, timeout=60)

    def teardown(self) -> None:
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        exists = self.kubectl("get", "namespace", self.namespace, namespaced=False, check=False, timeout=30)
        if exists.returncode != 0:
            return
        if self.helm.current(self.release) is not None:
            # helm uninstall may hang on a pending hook of an earlier run: the namespace deletion below
            # removes everything anyway.
            try:
                self.helm.uninstall(self.release, timeout=120)
            except CommandError:
                pass
        self.kubectl("delete", "namespace", self.namespace, "--wait=true", "--timeout=300s",
                     namespaced=False, timeout=330)

    def data_snapshot(self) -> DataSnapshot | None:
        pod = self.database_pod("rhdemo", wait=120, missing_ok=True)
        if pod is None:
            return None
        if int(pod.query(TABLE_EXISTS_SQL)[0]) == 0:
            return None
        stats = parse_stats(pod.query(EMPLOYES_STATS_SQL)[0])
        return DataSnapshot(stats.rows, stats.checksum)

    def health(self, component: str) -> Health:
        workload = WORKLOADS.get(component)
        if workload is None:
            return Health(False, f"unknown component {component!r} (known: {', '.join(WORKLOADS)})")
        state = self.kube.workload_state(workload)
        # Serving = the latest spec rolled out and enough ready replicas; a pod still terminating after
        # a restart does not count against it. A transient state gets a few seconds to settle.
        deadline = time.monotonic() + 20
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
                code, body = self.http("GET", "/actuator/health", port=9000)
            except LabError as error:
                return Health(False, f"{workload.ref} ready but actuator unreachable: {error.message}", [status])
            answer = Evidence(OUTPUT, "GET :9000/actuator/health", f"HTTP {code} {body[:300]}")
            up = code == 200 and '"status":"UP"' in body.replace(" ", "")
            return Health(up, f"{state.summary}, actuator HTTP {code}" + (" UP" if up else ""), [status, answer])
        return Health(True, state.summary, [status])

    def diagnostics(self) -> Sequence[Evidence]:
        found: list[Evidence] = []
        try:
            for event in self.kube.warning_events(limit=12):
                found.append(Evidence.event(object=event.object, reason=event.reason, message=event.message))
            workloads = [w for w in WORKLOADS.values()]
            states = [self.kube.workload_state(w) for w in workloads]
            present = [(w, s) for w, s in zip(workloads, states) if s is not None]
            lines = diagnose(self.kube, [w for w, _ in present], [s for _, s in present])
            if lines:
                found.append(Evidence(STATUS, f"namespace {self.namespace}", "\n".join(lines)))
            pods = self.kube.pods()
            found.append(Evidence(STATUS, "pods", "\n".join(
                f"{p.name} {p.containers_ready} {p.phase} restarts={p.restarts} {p.problem or ''}".rstrip()
                for p in pods) or "(no pods)"))
        except Exception as error:  # diagnostics are best effort: never hide the deviation itself
            found.append(Evidence(STATUS, "diagnostics", f"could not collect: {type(error).__name__}: {error}"))
        return found

    def mask(self, text: str) -> str:
        return mask_text(text, self.runner.secrets)

    # ---- values and helm -----------------------------------------------------------------------
    def app_image(self, release: str = "1.0") -> str:
        """The stub image reference of app release 1.0 / 1.1 (content-hashed tag, built and loaded by
        prepare; fixed for the whole run even if app-stub/ changes meanwhile)."""
        return self._app_image(release).tag

    def _app_image(self, release: str) -> images_mod.AppImage:
        image = self._prepared.app_images().get(release)
        if image is None:
            raise LabError(f"no app release {release!r}", f"built releases: {', '.join(self.config.app_releases)}")
        return image

    def app_image_values(self, release: str = "1.0") -> dict[str, Any]:
        return images_mod.app_image_values(self._app_image(release))

    def base_values(self, app_release: str = "1.0") -> dict[str, Any]:
        """What the lab sets in every scenario release: namespace, app image, Keycloak off, no NodePort."""
        _, set_values = images_mod.image_set_values(self.config)
        lab = {"global": {"namespace": self.namespace}, "keycloak": {"enabled": False},
               "rhdemo": {"service": {"type": "ClusterIP"}}}
        return deep_merge(deep_merge(set_values, lab), self.app_image_values(app_release))

    def register_secrets(self, values: Mapping[str, Any]) -> None:
        """Every password-like leaf of these values is masked from now on."""
        for key, value in _walk(values):
            if "password" in key.lower() and isinstance(value, str) and value:
                self.runner.register_secret(value)

    def helm_values(self, values: Mapping[str, Any], app_release: str = "1.0") -> dict[str, Any]:
        return deep_merge(self.base_values(app_release), values)

    def upgrade(self, values: Mapping[str, Any], *, app_release: str = "1.0", wait: bool = True,
                timeout: float | None = None, expect_failure: bool = False, atomic: bool = False,
                extra: Sequence[str] = ()) -> HelmRun:
        """`helm upgrade --install` of the chart with the image set + app image + these values (a file).
        `timeout` defaults to the step's budget minus a margin for evidence; `expect_failure` only
        shortens that default (a known failure is not waited for minutes)."""
        self.register_secrets(values)
        budget = timeout if timeout is not None else max(30.0, self.step_timeout - _EVIDENCE_MARGIN)
        if expect_failure and timeout is None:
            budget = min(budget, 90.0)
        set_files, _ = images_mod.image_set_values(self.config)
        merged = self.helm_values(values, app_release)
        argv = ["helm", "upgrade", "--install", self.release, self.chart, "--kube-context", self.config.context,
                "--namespace", self.namespace, "--timeout", f"{int(budget)}s"]
        with values_file(merged) as path:
            for file in [*set_files, path]:
                argv += ["--values", str(file)]
            if wait:
                argv += list(self.helm.flags.wait)
            if atomic:
                argv.append(self.helm.flags.atomic)
            argv += list(extra)
            return self._helm(argv, budget + 60)

    install = upgrade  # `helm upgrade --install` either way; the name says what the step means

    def rollback(self, revision: int | None = None, *, wait: bool = True, timeout: float | None = None) -> HelmRun:
        budget = timeout if timeout is not None else max(30.0, self.step_timeout - _EVIDENCE_MARGIN)
        argv = ["helm", "rollback", self.release, *([str(revision)] if revision else []),
                "--kube-context", self.config.context, "--namespace", self.namespace, "--timeout", f"{int(budget)}s"]
        if wait:
            argv += list(self.helm.flags.wait)
        return self._helm(argv, budget + 60)

    def helm_test(self, timeout: float | None = None) -> HelmRun:
        budget = timeout if timeout is not None else max(30.0, self.step_timeout - _EVIDENCE_MARGIN)
        return self._helm(["helm", "test", self.release, "--kube-context", self.config.context,
                           "--namespace", self.namespace, "--timeout", f"{int(budget)}s", "--logs"], budget + 60)

    def helm_history(self) -> list[dict[str, Any]]:
        return self.helm.history(self.release)

    def _helm(self, argv: list[str], process_timeout: float) -> HelmRun:
        started = time.monotonic()
        try:
            result = self.runner.run(argv, timeout=process_timeout, check=False)
        except CommandError as error:  # the process itself outlived its budget
            return HelmRun(False, error.command, error.stderr_tail, time.monotonic() - started, timed_out=True)
        output = self.mask((result.stdout + "\n" + result.stderr).strip())
        timed_out = result.returncode != 0 and any(text in result.stderr for text in HELM_TIMEOUT_TEXTS)
        return HelmRun(result.returncode == 0, result.command, output, result.seconds, timed_out)

    # ---- kubectl -------------------------------------------------------------------------------
    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120,
                namespaced: bool = True) -> CommandResult:
        argv = ["kubectl", "--context", self.config.context, *(["-n", self.namespace] if namespaced else []), *args]
        return self.runner.run(argv, input=input, check=check, timeout=timeout)

    def apply_secret(self, name: str, password: str, key: str = "password") -> CommandResult:
        """The seed's Test 3 (`kubectl create secret ... --dry-run=client -o yaml | kubectl apply -f -`),
        the manifest on stdin: the password never reaches argv."""
        self.runner.register_secret(password)
        manifest = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": name, "namespace": self.namespace},
                    "stringData": {key: password}}
        return self.kubectl("apply", "-f", "-", input=json.dumps(manifest), timeout=60)

    def get_json(self, *args: str) -> dict[str, Any] | None:
        result = self.kubectl("get", *args, "-o", "json", check=False, timeout=60)
        return json.loads(result.stdout) if result.returncode == 0 else None

    # ---- pods, logs, events --------------------------------------------------------------------
    def pods_of(self, component: str) -> list[str]:
        """Pod names of a component (label `app=<component>`), newest last."""
        items = self.kube.core.list_namespaced_pod(self.namespace, label_selector=f"app={component}").items
        items.sort(key=lambda pod: pod.metadata.creation_timestamp)
        return [pod.metadata.name for pod in items]

    def pod_logs(self, pod: str, container: str | None = None, *, previous: bool = False, tail: int = 200) -> str:
        return self.kube.pod_logs(pod, container, tail_lines=tail, previous=previous)

    def logs(self, component: str, container: str | None = None, *, previous: bool | None = None,
             tail: int = 200) -> list[Evidence]:
        """Log evidence of every pod of a component: the current container, and the previous one when
        it restarted (`previous=None`: both when there is one)."""
        found = []
        for pod in self.kube.pods({"app": component}):
            name = container or _main_container(component)
            if previous is None or not previous:
                text = self.pod_logs(pod.name, name, tail=tail)
                found.append(Evidence(LOG, f"pod/{pod.name}/{name}", text))
            if (previous is None and pod.restarts > 0) or previous:
                text = self.pod_logs(pod.name, name, previous=True, tail=tail)
                found.append(Evidence(LOG, f"pod/{pod.name}/{name} (previous)", text))
        return found

    def events(self, object_name: str | None = None, warnings_only: bool = False, limit: int = 15) -> list[Evidence]:
        if object_name:
            items = self.kube.events_for(object_name, limit=limit)
        elif warnings_only:
            items = self.kube.warning_events(limit=limit)
        else:
            raw = self.kube.core.list_namespaced_event(self.namespace).items
            raw.sort(key=lambda e: str(e.last_timestamp or e.event_time or ""))
            return [Evidence.event(object=f"{e.involved_object.kind}/{e.involved_object.name}", reason=e.reason or "",
                                   message=(e.message or "").strip(), type=e.type or "") for e in raw[-limit:]]
        return [Evidence.event(object=e.object, reason=e.reason, message=e.message, type=e.type) for e in items]

    def jobs(self, prefix: str = "") -> list[dict[str, Any]]:
        """Jobs of the namespace whose name starts with `prefix` (hooks included), oldest first."""
        items = self.kube.batch.list_namespaced_job(self.namespace).items
        items.sort(key=lambda job: job.metadata.creation_timestamp)
        return [{"name": job.metadata.name, "annotations": dict(job.metadata.annotations or {}),
                 "succeeded": job.status.succeeded or 0, "failed": job.status.failed or 0,
                 "active": job.status.active or 0} for job in items if job.metadata.name.startswith(prefix)]

    def job_logs(self, job: str, tail: int = 100) -> list[Evidence]:
        """Every container's log (initContainers first) of every pod of a Job."""
        found = []
        for pod in self.kube.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={job}").items:
            containers = [c.name for c in (pod.spec.init_containers or [])] + [c.name for c in pod.spec.containers]
            for container in containers:
                text = self.pod_logs(pod.metadata.name, container, tail=tail)
                found.append(Evidence(LOG, f"job/{job} pod/{pod.metadata.name}/{container}", text))
        return found

    def current_pods(self, component: str) -> set[str] | None:
        """Pods of the Deployment's current revision (its newest ReplicaSet), once the controller has
        seen the latest spec; None while it has not (or for a StatefulSet)."""
        try:
            deployment = self.kube.apps.read_namespaced_deployment(component, self.namespace)
        except Exception:
            return None
        if (deployment.status.observed_generation or 0) < (deployment.metadata.generation or 0):
            return None
        revision = (deployment.metadata.annotations or {}).get("deployment.kubernetes.io/revision")
        sets = self.kube.apps.list_namespaced_replica_set(self.namespace, label_selector=f"app={component}").items
        current = next((rs for rs in sets if (rs.metadata.annotations or {}).get("deployment.kubernetes.io/revision")
                        == revision), None)
        if current is None:
            return None
        template_hash = (current.metadata.labels or {}).get("pod-template-hash")
        return {p.name for p in self.kube.pods({"app": component}) if p.labels.get("pod-template-hash") == template_hash}

    def find_crash(self, component: str, needle: str | None = None, *,
                   exclude: Collection[str] = (), only: Collection[str] | None = None) -> Crash | None:
        """A pod of the component whose main container failed (restarted or exited non-zero); its log
        lines (the previous container's when it restarted). With `needle`, only a crash whose logs
        contain it; pods named in `exclude` are ignored, and with `only` (e.g. `current_pods()`)
        only those pods are considered."""
        for pod in self.kube.pods({"app": component}):
            if pod.name in exclude or (only is not None and pod.name not in only) or pod.ready or not pod.problem:
                continue
            container = _main_container(component)
            texts = [self.pod_logs(pod.name, container, previous=True)] if pod.restarts > 0 else []
            texts.append(self.pod_logs(pod.name, container))
            # Right at a restart the kubelet may not serve a container's log yet: look again next time.
            readable = [text for text in texts if text.strip() and not text.startswith("(no logs")
                        and "unable to retrieve container logs" not in text]
            if not readable:
                continue
            logs = "\n".join(readable)
            if needle is None or needle in logs:
                return Crash(pod.name, pod.problem, logs)
        return None

    def wait_healthy(self, component: str, timeout: float, *, fail_on_crash: bool = False) -> tuple[bool, str]:
        """Poll until the component is healthy; with `fail_on_crash`, stop at the first crashed pod."""
        deadline = time.monotonic() + timeout
        detail = "not checked"
        while True:
            state = self.kube.workload_state(WORKLOADS[component])
            detail = "does not exist" if state is None else state.summary
            if state is not None and state.healthy:
                return True, detail
            if fail_on_crash and state is not None and any(p.problem and p.restarts > 0 for p in state.pods):
                return False, detail
            if time.monotonic() > deadline:
                return False, detail
            time.sleep(3)

    # ---- database ------------------------------------------------------------------------------
    def database_pod(self, database: str = "rhdemo", *, wait: float = 120,
                     missing_ok: bool = False) -> DatabasePod | None:
        """The database's pod once ready (bounded wait: it may be restarting). None when its
        StatefulSet does not exist and `missing_ok`."""
        statefulset = DATABASES[database]
        deadline = time.monotonic() + wait
        while True:
            state = self.kube.workload_state(Workload("StatefulSet", statefulset))
            if state is None and missing_ok:
                return None
            ready = next((p.name for p in (state.pods if state else ()) if p.ready), None)
            if ready is not None:
                return DatabasePod(self.runner, self.config.context, self.namespace, ready)
            if time.monotonic() > deadline:
                summary = "missing" if state is None else state.summary
                raise LabError(f"statefulset/{statefulset} has no ready pod after {wait:.0f}s ({summary})")
            time.sleep(2)

    def sql(self, database: str, query: str) -> list[str]:
        """Rows (`a|b` lines) of a query run as the superuser through the database pod's socket."""
        pod = self.database_pod(database)
        assert pod is not None
        return pod.query(query)

    def sql_evidence(self, database: str, query: str) -> Evidence:
        rows = self.sql(database, query)
        return Evidence(SQL, f"psql {database}", f"{query}\n" + ("\n".join(rows) if rows else "(0 rows)"))

    def can_login(self, database: str, user: str, password: str) -> tuple[bool, str]:
        """Does this password log in over TCP through the database's Service, exactly the app's path
        (`host all all all scram-sha-256`)? (True, "") or (False, the server's reason).
        Not through a port-forward: its connections arrive from 127.0.0.1 inside the pod, which the
        official image's pg_hba trusts, so any password would "work". psql runs in the database pod
        and reads the password from stdin (never argv)."""
        self.runner.register_secret(password)
        pod = self.database_pod(database)
        assert pod is not None
        service = DATABASES[database]
        script = ('IFS= read -r PGPASSWORD; export PGPASSWORD; '
                  f'exec psql -X -h {service} -U "$1" -d "$2" -tA -c "SELECT 1"')
        result = self.kubectl("exec", "-i", pod.pod, "-c", "postgresql", "--", "sh", "-c", script, "sh", user,
                              database, input=password + "\n", check=False, timeout=60)
        if result.returncode == 0 and result.stdout.strip() == "1":
            return True, ""
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = next((line for line in lines if "FATAL" in line), lines[0] if lines else "psql failed")
        return False, self.mask(reason.strip())

    # ---- the app's HTTP API --------------------------------------------------------------------
    def http(self, method: str, path: str, body: Any = None, *, port: int = 8080,
             timeout: float = 15) -> tuple[int, str]:
        """A request to the app through a port-forward of service/rhdemo-app: (status, body)."""
        data = json.dumps(body).encode() if body is not None else None
        with port_forward(self.runner, self.config.context, self.namespace, "service/rhdemo-app", port) as local:
            request = urllib.request.Request(f"http://127.0.0.1:{local}{path}", data=data, method=method,
                                             headers={"Content-Type": "application/json"} if data else {})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    return response.status, response.read().decode(errors="replace")
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode(errors="replace")
            except (urllib.error.URLError, OSError) as error:
                raise LabError(f"{method} {path} on port {port}: {error}") from None

    def http_get(self, path: str, port: int = 8080) -> tuple[int, str]:
        return self.http("GET", path, port=port)

    def release_manifest_workloads(self) -> list[Workload]:
        try:
            return workloads_in_manifest(self.helm.get_manifest(self.release))
        except CommandError:
            return []


def _serving(state: Any) -> bool:
    return bool(state.up_to_date and state.ready >= state.desired)


def _main_container(component: str) -> str:
    return {"postgresql-rhdemo": "postgresql", "postgresql-keycloak": "postgresql"}.get(component, component)


def _walk(values: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(values, Mapping):
        found = []
        for key, value in values.items():
            found.extend(_walk(value, str(key)))
        return found
    return [(prefix, values)]


class _PreparedCluster:
    """The cluster and images, converged once per process like `lab up` steps 1-2 (cluster, build
    what is missing, load what the node lacks)."""

    def __init__(self, config: LabConfig, runner: Runner) -> None:
        self.config = config
        self.runner = runner
        self.done = False
        self._app_images: dict[str, images_mod.AppImage] | None = None

    def app_images(self) -> dict[str, images_mod.AppImage]:
        """The app images of this run, by release, computed once (their tags are content hashes)."""
        if self._app_images is None:
            self._app_images = {image.release: image for image in images_mod.app_images(self.config)}
        return self._app_images

    def ensure(self) -> None:
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


def dump_values(values: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(values), sort_keys=True)
