"""The typed contract between scenario operations (`scenarios/_operations/`) and a cluster.

An operation is a function `(ClusterOps) -> ActionResult`; `operation(name, run, replay)` makes it
an engine `Action`. `ClusterOps` is four small pieces plus the scenario's names and step budget:

    helm       ReleaseHelm  the scenario's release: upgrade/install, rollback, test, history, uninstall
    workloads  Workloads    pods, logs, events, Jobs, waits, crash detection, kubectl-only changes
    db         Databases    SQL as the superuser through a database pod, password logins
    app        App          HTTP to the app

`lab.scenario.live.LiveContext` implements them on the real cluster; unit tests implement them with
fakes. A renamed method is a type error in every operation that uses it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from lab.app import HttpAnswer
from lab.helm import HelmRun
from lab.kube import Crash, JobState, PodState
from lab.scenario.context import ScenarioContext
from lab.scenario.model import Action, ActionResult, Evidence, ReplayCommands


class ReleaseHelm(Protocol):
    def upgrade(self, values: Mapping[str, Any], *, timeout: float, app_release: str = "1.0", wait: bool = True,
                atomic: bool = False) -> HelmRun:
        """`helm upgrade --install` of the chart with the lab's values and these (complete) values."""

    def rollback(self, revision: int | None = None, *, timeout: float) -> HelmRun: ...

    def test(self, *, timeout: float, logs: bool = True) -> HelmRun: ...

    def history(self) -> list[dict[str, Any]]: ...

    def uninstall(self, timeout: float) -> None: ...


class Workloads(Protocol):
    """By component name ("rhdemo-app", "postgresql-rhdemo"...): pods carry `app=<component>`."""

    def pods(self, component: str) -> list[PodState]: ...

    def pod_names(self, component: str) -> list[str]:
        """Oldest first."""

    def pod_logs(self, pod: str, container: str | None = None, *, previous: bool = False, tail: int = 200) -> str: ...

    def logs(self, component: str, container: str | None = None, *, tail: int = 200) -> list[Evidence]:
        """Log evidence of each pod of the component: current container, and the previous one if it restarted."""

    def events(self, *, warnings_only: bool = False, limit: int = 15) -> list[Evidence]: ...

    def jobs(self, prefix: str = "") -> list[JobState]: ...

    def job_logs(self, job: str, tail: int = 100) -> list[Evidence]: ...

    def current_pods(self, component: str) -> set[str] | None: ...

    def find_crash(self, component: str, needle: str | None = None, *, exclude: Collection[str] = (),
                   only: Collection[str] | None = None) -> Crash | None: ...

    def wait_healthy(self, component: str, timeout: float, *, fail_on_crash: bool = False) -> tuple[bool, str]: ...

    def replica_sets(self, component: str) -> list[str]: ...

    def follow_logs(self, selector: Mapping[str, str], container: str) -> AbstractContextManager[dict[str, str]]:
        """Logs of the pods matching `selector` that run during the block (filled when it ends)."""

    def apply_secret(self, name: str, password: str, key: str = "password") -> str:
        """Create or replace an Opaque Secret (the value on stdin, never argv); kubectl's output."""

    def statefulsets(self) -> list[str]: ...

    def image_of(self, deployment: str) -> str: ...

    def restart(self, deployment: str, timeout: float) -> None:
        """`rollout restart`, then `rollout status` within `timeout`."""

    def wait_pods_ready(self, component: str, timeout: float) -> None: ...

    def delete_jobs(self, timeout: float) -> str: ...

    def readable_texts(self) -> dict[str, str]:
        """What a reader of the namespace without access to Secrets sees, by source: its ConfigMaps, the
        manifests of its pods, Deployments, StatefulSets and Jobs (annotations, env, args), and every log of
        every container of its pods."""


class Databases(Protocol):
    """`database` is "rhdemo" or "keycloak"."""

    def sql(self, database: str, query: str) -> list[str]:
        """Rows (`a|b` lines) of a query run as the superuser through the database pod's socket."""

    def can_login(self, database: str, user: str, password: str) -> tuple[bool, str]:
        """Over TCP through the database's Service, as the app logs in: (True, "") or (False, the reason)."""


class App(Protocol):
    """(The steady requests of a probed step are the engine's: `ScenarioContext.probe_availability`.)"""

    def request(self, method: str, path: str, body: Any = None, *, port: int = 8080) -> HttpAnswer: ...


@runtime_checkable
class ClusterOps(Protocol):
    @property
    def scenario_id(self) -> str: ...

    @property
    def namespace(self) -> str: ...

    @property
    def release(self) -> str: ...

    @property
    def step_timeout(self) -> float: ...

    @property
    def helm(self) -> ReleaseHelm: ...

    @property
    def workloads(self) -> Workloads: ...

    @property
    def db(self) -> Databases: ...

    @property
    def app(self) -> App: ...

    def mask(self, text: str) -> str: ...


def cluster_ops(ctx: ScenarioContext) -> ClusterOps:
    if isinstance(ctx, ClusterOps):
        return ctx
    raise TypeError(f"{type(ctx).__name__} cannot run cluster operations (it has no helm, workloads, db, app)")


class Operation(Protocol):
    def __call__(self, ops: ClusterOps) -> ActionResult: ...


def operation(name: str, run: Operation, replay: ReplayCommands = ()) -> Action:
    """An engine `Action` running `run` on the context's cluster pieces."""

    def on_context(ctx: ScenarioContext) -> ActionResult:
        return run(cluster_ops(ctx))

    return Action(name, on_context, replay)


__all__ = ["App", "ClusterOps", "Databases", "Operation", "ReleaseHelm", "Workloads", "cluster_ops", "operation"]
