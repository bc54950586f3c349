"""`lab up` as an ordered list of steps over one small context (kind's create actions):

    EnsureCluster -> EnsureImages -> EnsureRelease -> WaitReady

Each step reads the actual state first and changes only what differs, then returns its `StepStatus`;
so a run interrupted anywhere (Ctrl-C, SIGKILL) is finished by the next one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol

from lab import images as images_mod
from lab.cluster import ClusterProvider
from lab.config import LabConfig
from lab.errors import LabError
from lab.helm import FINGERPRINT_LABEL, Helm, plan_release, values_file
from lab.kube import HookJob, Kube, Workload, WorkloadState, workloads_in_manifest
from lab.runner import CommandError, Runner
from lab.stack.desired import DesiredRelease, deployed_app_image, desired_release
from lab.stack.diagnosis import StackNotReady, diagnose, failing_objects, helm_headline
from lab.stack.status import ComponentStatus, Progress, SilentProgress, State, StepStatus, component_statuses


class UpContext:
    """What the steps share: the settings, the one runner, the cluster, progress, and clients made on
    first use (the kube client needs the cluster's context, which exists only after EnsureCluster)."""

    def __init__(self, config: LabConfig, runner: Runner, cluster: ClusterProvider,
                 progress: Progress | None = None, docker_client: Any = None) -> None:
        self.config = config
        self.runner = runner
        self.cluster = cluster
        self.progress: Progress = progress or SilentProgress()
        self._docker = docker_client
        # Set by EnsureRelease, read by WaitReady and the summary.
        self.desired: DesiredRelease | None = None
        self.helm_started: float | None = None
        self.components: list[ComponentStatus] = []
        self.workloads: list[WorkloadState] = []

    @property
    def docker(self) -> Any:
        if self._docker is None:
            self._docker = images_mod.docker_client()
        return self._docker

    @cached_property
    def kube(self) -> Kube:
        return Kube(self.config.context, self.config.namespace)

    @cached_property
    def helm(self) -> Helm:
        """One client: it asks `helm version` once."""
        return Helm(self.runner, self.config.context, self.config.namespace)


class Step(Protocol):
    name: str  # "cluster", "images"...: what the status line is about

    def title(self, ctx: UpContext) -> str: ...
    def run(self, ctx: UpContext) -> StepStatus: ...


_CLUSTER_STATES = {"none": State.UNCHANGED, "create": State.CREATED, "recreate": State.RECREATED,
                   "start": State.CHANGED}


class EnsureCluster:
    """The kind cluster converged (created, started, recreated when broken and holding no data), or an
    existing --context cluster answering."""

    name = "cluster"

    def __init__(self, recreate: bool = False) -> None:
        self.recreate = recreate

    def title(self, ctx: UpContext) -> str:
        return ctx.cluster.description

    def run(self, ctx: UpContext) -> StepStatus:
        plan = ctx.cluster.ensure(recreate=self.recreate, on_step=ctx.progress.detail)
        detail = "already as wanted" if plan.action == "none" else f"was: {'; '.join(plan.reasons)}"
        return StepStatus(self.name, _CLUSTER_STATES[plan.action], detail)


class EnsureImages:
    """The app images built when their content tag is missing, the local image set present in Docker,
    and loaded into the node when it lacks that image ID."""

    name = "images"

    def __init__(self, app_images: Sequence[images_mod.AppImage]) -> None:
        self.app_images = list(app_images)

    def title(self, ctx: UpContext) -> str:
        return f"images (set {ctx.config.image_set})"

    def run(self, ctx: UpContext) -> StepStatus:
        config = ctx.config
        builder = images_mod.ImageBuilder(ctx.docker)
        wanted: dict[str, str] = {}
        built: list[str] = []
        for image in self.app_images:
            if builder.image_id(image.tag) is None:
                ctx.progress.detail(f"building {image.tag}")
                built.append(image.tag)
            wanted[image.tag] = builder.build(image, config.app_stub_path, config.timeouts.build,
                                              config.state_dir / "logs", on_line=ctx.progress.output)
        for reference in images_mod.local_images_required(config):
            image_id = builder.image_id(reference)
            if image_id is None:
                raise LabError(f"image {reference} of the local image set is not in Docker",
                               "build the local image set: `lab build images`, or use --image-set public")
            wanted[reference] = image_id
        loaded = ctx.cluster.load_images(wanted, on_step=ctx.progress.detail)
        figures = {"images": len(wanted), "built": len(built), "loaded": len(loaded or [])}
        if loaded is None:
            detail = f"{len(wanted)} images, {len(built)} built; the cluster's nodes must be able to pull them"
        else:
            detail = f"{len(wanted)} images, {len(built)} built, {len(loaded)} loaded into the node"
        state = State.CHANGED if built or loaded else State.UNCHANGED
        return StepStatus(self.name, state, detail, figures)


_RELEASE_STATES = {"none": State.UNCHANGED, "install": State.CREATED, "upgrade": State.CHANGED}


class EnsureRelease:
    """`helm upgrade --install` only when the chart or the values changed (the fingerprint label says),
    after dropping a pending record an interrupted run left behind; live component progress meanwhile."""

    name = "release"

    def title(self, ctx: UpContext) -> str:
        return f"release {ctx.config.release} in {ctx.config.namespace}"

    def run(self, ctx: UpContext) -> StepStatus:
        config, helm = ctx.config, ctx.helm
        helm.ensure_dependencies(config.chart_path)
        ctx.desired = desired = desired_release(config, deployed_app_image(config))
        plan = plan_release(helm.current(config.release), desired.fingerprint)
        if plan.clear_pending is not None:
            helm.drop_pending_record(config.release, plan.clear_pending)
        if plan.action != "none":
            ctx.progress.detail(f"helm upgrade --install ({plan.action}: {plan.reason}): hooks, then the workloads")
            ctx.helm_started = time.monotonic()
            self._apply(ctx, desired)
        current = helm.current(config.release)
        figures = {"revision": current.revision} if current else {}
        return StepStatus(self.name, _RELEASE_STATES[plan.action], plan.reason, figures)

    def _apply(self, ctx: UpContext, desired: DesiredRelease) -> None:
        """helm upgrade --install in a thread while this one renders progress."""
        config, helm = ctx.config, ctx.helm
        outcome: dict[str, BaseException] = {}

        def run() -> None:
            try:
                with values_file(desired.generated) as generated:
                    helm.upgrade_install(config.release, config.chart_path, [*desired.values_files, generated],
                                         labels={FINGERPRINT_LABEL: desired.fingerprint},
                                         timeout=config.timeouts.helm)
            except BaseException as exc:  # noqa: BLE001 — handed to the main thread, which re-raises it
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="helm-upgrade", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(timeout=3)
            try:
                self._show_components(ctx, helm)
            except Exception as exc:  # noqa: BLE001 — progress is best effort; helm's result decides
                ctx.progress.detail(f"(progress unavailable: {str(exc).splitlines()[0][:120]})")
        error = outcome.get("error")
        if isinstance(error, CommandError):
            workloads: list[Workload] = []
            try:
                workloads = workloads_in_manifest(helm.get_manifest(config.release))
            except LabError:
                pass
            states = [ctx.kube.workload_state(w) for w in workloads]
            raise StackNotReady(f"helm upgrade failed: {helm_headline(error.stderr_tail)}",
                                "fix the cause shown above, then `lab up` again (it resumes from here)",
                                diagnose(ctx.kube, workloads, states, failing_objects(error.stderr_tail)))
        if error is not None:
            raise error

    @staticmethod
    def _show_components(ctx: UpContext, helm: Helm) -> None:
        if not ctx.kube.namespace_exists():
            return
        workloads = workloads_in_manifest(helm.get_manifest(ctx.config.release))
        hooks = ctx.kube.hook_jobs()
        if workloads:
            states = [ctx.kube.workload_state(w) for w in workloads]
            ctx.progress.components(component_statuses(states, workloads, hooks))
        else:  # pre-install hooks run before any workload exists
            ctx.progress.components(component_statuses([], [], hooks) if hooks else
                                    [ComponentStatus("hooks", State.PENDING, "waiting")])


class WaitReady:
    """Every workload of the release ready — also after a no-op release: pods may have been deleted,
    nodes restarted. On timeout: the diagnosis of what is not ready, and why."""

    name = "components"

    def title(self, ctx: UpContext) -> str:
        return "components"

    def run(self, ctx: UpContext) -> StepStatus:
        config = ctx.config
        workloads = workloads_in_manifest(ctx.helm.get_manifest(config.release))

        def show(states: list[WorkloadState | None], hooks: list[HookJob]) -> None:
            ctx.components = component_statuses(states, workloads, hooks)
            ctx.progress.components(ctx.components)

        states = ctx.kube.wait_ready(workloads, config.timeouts.ready, show)
        if not all(s is not None and s.healthy for s in states):
            raise StackNotReady("the stack did not become ready in time",
                                "see `lab status` and `lab logs <component>`; then `lab up` again",
                                diagnose(ctx.kube, workloads, states))
        ctx.workloads = [s for s in states if s is not None]
        figures: dict[str, int | float | str] = {"components": len([c for c in ctx.components if c.name != "hooks"])}
        if ctx.helm_started is not None:
            figures["helm_to_ready_seconds"] = round(time.monotonic() - ctx.helm_started, 1)
        return StepStatus(self.name, State.READY, f"{len(workloads)} workloads ready", figures)


def up_steps(app_images: Sequence[images_mod.AppImage], recreate: bool = False) -> list[Step]:
    return [EnsureCluster(recreate), EnsureImages(app_images), EnsureRelease(), WaitReady()]


def run_steps(ctx: UpContext, steps: Sequence[Step]) -> list[StepStatus]:
    """Run the steps in order, each announced (RUNNING) then ended with its status; a failing step
    ends FAILED (its error propagates: the later steps do not run)."""
    done: list[StepStatus] = []
    for step in steps:
        ctx.progress.step(StepStatus(step.name, State.RUNNING, step.title(ctx)))
        try:
            status = step.run(ctx)
        except LabError as exc:
            ctx.progress.step(StepStatus(step.name, State.FAILED, exc.message))
            raise
        ctx.progress.step(status)
        done.append(status)
    return done
