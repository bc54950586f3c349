"""`up` / `down` / `status` of the rhdemo stack, and the lookups of `logs`, `psql` and `values`.

`up` runs the steps of `lab.stack.steps` under an exclusive lock and gathers their statuses; the CLI
renders them.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import yaml

from lab import images as images_mod
from lab.cluster import ClusterProvider, ClusterState, cluster_for
from lab.config import LabConfig
from lab.database import DatabasePod, TableStats
from lab.errors import LabError
from lab.helm import DeployedRelease, Helm, deep_merge, mask_values, values_file
from lab.kube import HookJob, Kube, PodState, Workload, WorkloadState, logs_argv, workloads_in_manifest
from lab.runner import CommandError, Runner
from lab.stack.desired import chart_default_values, deployed_app_image, desired_release, password_command
from lab.stack.status import ComponentStatus, Progress, SilentProgress, StepStatus
from lab.stack.steps import EnsureCluster, EnsureImages, UpContext, run_steps, up_steps


@dataclass
class UpResult:
    steps: list[StepStatus]
    components: list[ComponentStatus] = field(default_factory=list)
    workloads: list[WorkloadState] = field(default_factory=list)
    seconds: float = 0.0
    urls: dict[str, str] = field(default_factory=dict)
    password_command: str = ""
    next_commands: list[str] = field(default_factory=list)

    def step(self, name: str) -> StepStatus:
        return next(status for status in self.steps if status.step == name)

    @property
    def changed(self) -> bool:
        return any(status.state.changed_something for status in self.steps)

    @property
    def revision(self) -> int | None:
        revision = self.step("release").figures.get("revision")
        return int(revision) if revision is not None else None


@dataclass(frozen=True)
class DeployedSettings:
    """What the release really runs with, read from its values (not from the lab's settings)."""

    image_set: str
    app_image: str | None


@dataclass
class StatusReport:
    context: str
    image_set: str  # the configured one (flag, remembered or default); `deployed` says what runs
    cluster: ClusterState | None = None
    reachable: bool = False
    release: DeployedRelease | None = None
    deployed: DeployedSettings | None = None
    workloads: list[WorkloadState] = field(default_factory=list)
    pods: list[PodState] = field(default_factory=list)
    hooks: list[HookJob] = field(default_factory=list)
    db_roles: dict[str, list[str] | str] = field(default_factory=dict)
    employes: TableStats | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DownResult:
    lines: list[str]
    nothing_deployed: bool  # the release (or the whole cluster) is gone: nothing left to remember


@contextmanager
def exclusive(config: LabConfig, what: str) -> Iterator[None]:
    """One `lab up`/`down` per cluster at a time (the lock dies with the process, even on SIGKILL)."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    path = config.state_dir / f"{config.cluster_name}.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise LabError(f"another lab command is changing cluster {config.cluster_name} ({handle.read().strip()})",
                           "wait for it to finish, or stop it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"`lab {what}`, pid {os.getpid()}")
        handle.flush()
        yield


class Stack:
    def __init__(self, config: LabConfig, runner: Runner, progress: Progress | None = None,
                 cluster: ClusterProvider | None = None) -> None:
        self.config = config
        self.runner = runner
        self.progress: Progress = progress or SilentProgress()
        self.cluster = cluster or cluster_for(config, runner)

    @cached_property
    def kube(self) -> Kube:
        return Kube(self.config.context, self.config.namespace)

    @cached_property
    def helm(self) -> Helm:
        return Helm(self.runner, self.config.context, self.config.namespace)

    def _context(self) -> UpContext:
        return UpContext(self.config, self.runner, self.cluster, self.progress)

    # --- up ---------------------------------------------------------------------------------------
    def up(self, recreate: bool = False, on_accepted: Callable[[], object] = lambda: None) -> UpResult:
        """Converge; `on_accepted` runs once the input is known good, before anything changes (the CLI
        remembers the settings there: a run interrupted later is finished by a `lab up` with the same)."""
        started = time.monotonic()
        config = self.config
        # Bad input (a missing values file, a value the chart refuses...) fails here, before anything changes.
        self.check_desired()
        ctx = self._context()
        with exclusive(config, "up"):
            on_accepted()
            statuses = run_steps(ctx, up_steps(images_mod.app_images(config), recreate))
        assert ctx.desired is not None  # EnsureRelease ran
        urls = self.cluster.urls()
        return UpResult(
            steps=statuses, components=ctx.components, workloads=ctx.workloads,
            seconds=time.monotonic() - started, urls=urls,
            password_command=password_command(config, ctx.desired.user_values, chart_default_values(config)),
            next_commands=["lab status", "lab psql rhdemo", "lab logs app",
                           *([f"curl -s {urls['health']}"] if "health" in urls else [])])

    def check_desired(self) -> None:
        """The desired release, rendered by helm without a cluster: a value of the wrong type or one the
        chart's validateValues refuses is an error here, before a cluster is created or an image built."""
        self.desired_manifest()

    def desired_manifest(self) -> str:
        """The desired release rendered by `helm template` (no cluster), or the chart's refusal as a LabError."""
        desired = desired_release(self.config, deployed_app_image(self.config))
        with values_file(desired.generated) as generated:
            manifest, refusal = self.helm.template(self.config.release, self.config.chart_path,
                                                   [*desired.values_files, generated])
        if refusal is not None:
            raise LabError(f"the chart refuses these values:\n{refusal}",
                           "fix the value named above (`lab values` shows the effective values)")
        return manifest

    def ensure_cluster(self, recreate: bool = False) -> StepStatus:
        """The first step of `up` alone (scenarios prepare the cluster like this)."""
        return run_steps(self._context(), [EnsureCluster(recreate)])[0]

    def ensure_images(self, app_images: Sequence[images_mod.AppImage]) -> StepStatus:
        """The second step of `up` alone: build what is missing, load what the node lacks."""
        return run_steps(self._context(), [EnsureImages(app_images)])[0]

    # --- status -----------------------------------------------------------------------------------
    def status(self) -> StatusReport:
        config = self.config
        report = StatusReport(context=config.context, image_set=str(config.image_set))
        report.cluster = self.cluster.describe()
        report.reachable = report.cluster.api_healthy if report.cluster is not None else self.cluster.api_healthy()
        if not report.reachable:
            return report
        helm = self.helm
        report.release = helm.current(config.release)
        if report.release is None:
            return report
        try:
            user_values = helm.get_values(config.release, all_values=False)
            report.deployed = DeployedSettings(images_mod.deployed_image_set(user_values),
                                               images_mod.deployed_app_image_reference(user_values))
        except CommandError as exc:
            report.problems.append(exc.message)
        if report.deployed is not None and report.deployed.image_set != report.image_set:
            report.problems.append(f"deployed with image set {report.deployed.image_set}, but the settings say "
                                   f"{report.image_set}: `lab up` would redeploy with {report.image_set}")
        try:
            workloads = workloads_in_manifest(helm.get_manifest(config.release))
        except CommandError as exc:
            report.problems.append(exc.message)
            workloads = []
        report.workloads = [s for s in (self.kube.workload_state(w) for w in workloads) if s is not None]
        report.pods = self.kube.pods()
        report.hooks = self.kube.hook_jobs()[-6:]
        for workload in workloads:
            if workload.component.startswith("database"):
                pod = self._ready_pod(workload)
                if pod is None:
                    report.db_roles[workload.name] = "pod not ready"
                    continue
                database = DatabasePod(self.runner, config.context, config.namespace, pod)
                try:
                    report.db_roles[workload.name] = database.roles()
                    if workload.component == "database":
                        report.employes = database.employes_stats()
                except LabError as exc:
                    report.db_roles[workload.name] = exc.message
        return report

    def unreachable(self) -> LabError:
        """Why the cluster cannot be read, with the fix: an unknown context, or a cluster that does not answer."""
        check = self.cluster.check_context()  # an existing cluster: unknown context, or its API does not answer
        if not check.ok:
            return LabError(check.detail, check.fix)
        return LabError(f"the cluster of context {self.config.context} does not answer",
                        "`lab up` creates or repairs the lab's kind cluster")

    def _ready_pod(self, workload: Workload) -> str | None:
        state = self.kube.workload_state(workload)
        if state is None:
            return None
        return next((p.name for p in state.pods if p.ready), None)

    # --- down -------------------------------------------------------------------------------------
    def down(self, keep_cluster: bool = False) -> DownResult:
        """Delete the lab's cluster; with `keep_cluster`, or on a cluster the lab does not own, only
        uninstall the release (its PersistentVolumeClaims stay)."""
        config = self.config
        with exclusive(config, "down"):
            deleted = None if keep_cluster else self.cluster.delete()
            if deleted is not None:
                return DownResult([deleted], nothing_deployed=True)
            if not self.cluster.api_healthy():
                return DownResult([f"context {config.context} unreachable: nothing uninstalled"], nothing_deployed=False)
            if self.helm.current(config.release) is None:
                return DownResult([f"no release {config.release}"], nothing_deployed=True)
            self.helm.uninstall(config.release, config.timeouts.helm)
            return DownResult([f"release {config.release} uninstalled (PersistentVolumeClaims kept: the data stays)"],
                              nothing_deployed=True)

    # --- component lookups (logs, psql, values) ---------------------------------------------------
    def workloads(self) -> list[Workload]:
        try:
            return workloads_in_manifest(self.helm.get_manifest(self.config.release))
        except CommandError:
            raise LabError(f"release {self.config.release} is not installed in {self.config.namespace}",
                           "run `lab up` first") from None

    def find_workload(self, component: str) -> Workload:
        aliases = {"rhdemo": "app", "db": "database", "postgresql": "database", "postgres": "database",
                   "keycloak-db": "database-keycloak", "database-rhdemo": "database"}
        wanted = aliases.get(component, component)
        workloads = self.workloads()
        for workload in workloads:
            if workload.name == component or workload.component == wanted:
                return workload
        names = sorted({w.component for w in workloads} | {w.name for w in workloads} | {"hooks"})
        raise LabError(f"no component {component!r}", f"choose one of: {', '.join(names)}")

    def database_pod(self, database: str) -> DatabasePod:
        component = {"rhdemo": "database", "keycloak": "database-keycloak"}.get(database)
        if component is None:
            raise LabError(f"no database {database!r}", "choose rhdemo or keycloak")
        workload = self.find_workload(component)
        pod = self._ready_pod(workload)
        if pod is None:
            raise LabError(f"{workload.ref} has no ready pod", "see `lab status`; `lab up` to converge")
        return DatabasePod(self.runner, self.config.context, self.config.namespace, pod)

    def logs_argv(self, component: str, follow: bool, tail: int) -> list[str]:
        if component == "hooks":
            hooks = self.kube.hook_jobs()
            if not hooks:
                raise LabError("no hook Job in the namespace", "hook Jobs appear during `lab up` / helm upgrade")
            target = f"job/{hooks[-1].name}"
        else:
            target = self.find_workload(component).ref
        return logs_argv(self.config.context, self.config.namespace, target, follow=follow, tail=tail)

    def effective_values(self) -> tuple[str, dict[str, Any]]:
        """(where from, values masked): the deployed release's, else what `up` would deploy."""
        if self.cluster.exists():
            if not self.cluster.api_healthy(10):
                raise self.unreachable()
            current = self.helm.current(self.config.release)
            if current is not None:
                return (f"deployed revision {current.revision} ({current.status})",
                        mask_values(self.helm.get_values(self.config.release, all_values=True)))
        desired = desired_release(self.config, deployed_app_image(self.config))
        return ("desired (not deployed)", mask_values(deep_merge(chart_default_values(self.config), desired.user_values)))


def dump_yaml(values: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(values), sort_keys=False, default_flow_style=False)

