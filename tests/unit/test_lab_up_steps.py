"""`lab up`'s steps through fakes of the small pieces (the cluster provider, Docker's image store), and
how the CLI renders their states: structured states, never prose searched for words."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from rich.console import Console

from lab.cli.progress import RichProgress, render_up
from lab.cluster import ClusterPlan, ClusterState, ContextCheck, HostPort, OnStep
from lab.config import LabConfig
from lab.errors import LabError
from lab.images import app_images
from lab.kube import HookJob, PodState, Workload, WorkloadState
from lab.runner import Runner
from lab.stack import ComponentStatus, State, StepStatus, UpResult, component_statuses
from lab.stack.steps import EnsureCluster, EnsureImages, UpContext, run_steps


class FakeCluster:
    """A ClusterProvider whose answers the test sets."""

    tools: tuple[str, ...] = ()

    def __init__(self, plan: ClusterPlan = ClusterPlan("none"), loads: bool = True,
                 error: LabError | None = None) -> None:
        self.plan, self.loads, self.error = plan, loads, error
        self.in_node: dict[str, str] = {}

    context = "kind-fake"
    description = "fake cluster"

    def ensure(self, recreate: bool = False, on_step: OnStep = lambda s: None) -> ClusterPlan:
        if self.error:
            raise self.error
        return self.plan

    def api_healthy(self, timeout: int = 20) -> bool:
        return True

    def exists(self) -> bool:
        return True

    def describe(self) -> ClusterState | None:
        return None

    def load_images(self, wanted: Mapping[str, str], on_step: OnStep = lambda s: None) -> list[str] | None:
        if not self.loads:
            return None
        missing = [ref for ref, image_id in wanted.items() if self.in_node.get(ref) != image_id]
        self.in_node.update(wanted)
        return missing

    def delete(self) -> str | None:
        return None

    def urls(self) -> dict[str, str]:
        return {}

    def host_ports(self) -> list[HostPort]:
        return []

    def check_context(self) -> ContextCheck:
        return ContextCheck(True, "fake")


class FakeImages:
    """Docker's image store as the SDK shows it: `images.get(ref).id`."""

    def __init__(self, ids: dict[str, str]) -> None:
        self.ids = ids

    def get(self, reference: str) -> Any:
        if reference not in self.ids:
            raise docker.errors.ImageNotFound(reference)
        return type("Image", (), {"id": self.ids[reference]})()


class FakeDocker:
    def __init__(self, ids: dict[str, str]) -> None:
        self.images = FakeImages(ids)


class Recorder:
    def __init__(self) -> None:
        self.steps: list[StepStatus] = []

    def step(self, status: StepStatus) -> None:
        self.steps.append(status)

    def detail(self, message: str) -> None:
        pass

    def components(self, statuses: Any) -> None:
        pass

    def output(self, line: str) -> None:
        pass


def context(cluster: FakeCluster, docker_ids: dict[str, str] | None = None, config: LabConfig | None = None,
            progress: Recorder | None = None) -> UpContext:
    return UpContext(config or LabConfig(), Runner(), cluster, progress, FakeDocker(docker_ids or {}))


@pytest.mark.parametrize("action, state", [("none", State.UNCHANGED), ("create", State.CREATED),
                                           ("recreate", State.RECREATED), ("start", State.CHANGED)])
def test_the_cluster_step_says_what_it_did_as_a_state(action: str, state: State) -> None:
    status = EnsureCluster().run(context(FakeCluster(ClusterPlan(action, ("why",)))))
    assert (status.step, status.state) == ("cluster", state)
    assert status.detail == ("already as wanted" if action == "none" else "was: why")


@pytest.fixture
def stub_config(tmp_path: Path) -> LabConfig:
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "Dockerfile").write_text("FROM scratch\n")
    return LabConfig(app_stub_path=stub)


def test_the_images_step_loads_only_what_the_node_lacks(stub_config: LabConfig) -> None:
    images = app_images(stub_config)
    ids = {image.tag: f"sha256:{image.release}" for image in images}  # built already: no build
    cluster = FakeCluster()
    first = EnsureImages(images).run(context(cluster, ids, stub_config))
    assert first.state is State.CHANGED and first.figures == {"images": 2, "built": 0, "loaded": 2}
    again = EnsureImages(images).run(context(cluster, ids, stub_config))
    assert again.state is State.UNCHANGED and again.figures["loaded"] == 0


def test_on_an_existing_cluster_the_images_step_loads_nothing_and_says_so(stub_config: LabConfig) -> None:
    images = app_images(stub_config)
    ids = {image.tag: "sha256:x" for image in images}
    status = EnsureImages(images).run(context(FakeCluster(loads=False), ids, stub_config))
    assert status.state is State.UNCHANGED and "must be able to pull" in status.detail


def test_the_local_image_set_missing_from_docker_fails_the_step(stub_config: LabConfig) -> None:
    from dataclasses import replace

    from lab.config import ImageSet

    config = replace(stub_config, image_set=ImageSet("local"))
    images = app_images(config)
    with pytest.raises(LabError, match="of the local image set is not in Docker"):
        EnsureImages(images).run(context(FakeCluster(), {image.tag: "sha256:x" for image in images}, config))


def test_steps_are_announced_then_ended_and_a_failure_stops_the_run() -> None:
    recorder = Recorder()
    ok = context(FakeCluster(ClusterPlan("create", ("no cluster",))), progress=recorder)
    assert [s.state for s in run_steps(ok, [EnsureCluster()])] == [State.CREATED]
    assert [(s.step, s.state) for s in recorder.steps] == [("cluster", State.RUNNING), ("cluster", State.CREATED)]

    recorder.steps.clear()
    broken = context(FakeCluster(error=LabError("the cluster of context x does not answer")), progress=recorder)
    with pytest.raises(LabError):
        run_steps(broken, [EnsureCluster(), EnsureImages([])])
    assert [(s.step, s.state) for s in recorder.steps] == [("cluster", State.RUNNING), ("cluster", State.FAILED)]
    assert recorder.steps[-1].detail == "the cluster of context x does not answer"


def test_component_states_come_from_the_workloads_not_from_their_text() -> None:
    db, app, kc = (Workload("StatefulSet", "postgresql-rhdemo"), Workload("Deployment", "rhdemo-app"),
                   Workload("Deployment", "keycloak"))
    crash = PodState("rhdemo-app-1", "Running", False, "0/1", 3, "app: CrashLoopBackOff")
    starting = PodState("keycloak-1", "Pending", False, "0/1", 0, None)
    states = [WorkloadState(db, 1, 1, 1, True), WorkloadState(app, 1, 0, 1, True, (crash,)),
              WorkloadState(kc, 1, 0, 1, True, (starting,))]
    failed_hook = [HookJob("postgresql-rhdemo-password-sync-2", "pre-upgrade", "failed", "t1", "t2")]
    found = {c.name: c.state for c in component_statuses(states, [db, app, kc], failed_hook)}
    assert found == {"database": State.READY, "app": State.FAILED, "keycloak": State.PENDING, "hooks": State.FAILED}
    assert component_statuses([None], [app], [])[0].state is State.PENDING


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None, force_terminal=False, highlight=False), out


def test_the_cli_renders_the_state_even_when_the_detail_says_otherwise() -> None:
    shown, out = console()
    progress = RichProgress(shown, verbose=False)
    progress.step(StepStatus("components", State.RUNNING, "components"))
    progress.components([ComponentStatus("app", State.FAILED, "deployment/rhdemo-app: 0/1 ready")])
    progress.step(StepStatus("components", State.FAILED, "the stack did not become ready in time"))
    text = out.getvalue()
    assert "✗ app" in text and "✓" not in text
    assert "components: failed" in text


def test_the_summary_says_unchanged_and_shows_each_component_once() -> None:
    shown, out = console()
    progress = RichProgress(shown, verbose=False)
    components = [ComponentStatus("database", State.READY, "statefulset/postgresql-rhdemo: ready"),
                  ComponentStatus("app", State.READY, "deployment/rhdemo-app: ready"),
                  ComponentStatus("hooks", State.READY, "none")]
    for _ in range(3):  # the live table, refreshed while waiting
        progress.components(components)
    progress.step(StepStatus("components", State.READY, "2 workloads ready"))
    progress.close()
    steps = [StepStatus("cluster", State.UNCHANGED, "already as wanted"),
             StepStatus("images", State.UNCHANGED, "", {"images": 5, "built": 0, "loaded": 0}),
             StepStatus("release", State.UNCHANGED, "", {"revision": 3}),
             StepStatus("components", State.READY, "2 workloads ready")]
    result = UpResult(steps=steps, components=components)
    assert not result.changed and result.revision == 3
    render_up(shown, result)
    text = out.getvalue()
    assert "already up to date, nothing changed" in text
    assert "cluster: unchanged" in text and "cluster: none" not in text
    assert "images: unchanged (0 built, 0 loaded)" in text and "release: unchanged (revision 3)" in text
    assert text.count("statefulset/postgresql-rhdemo: ready") == 1 and text.count("deployment/rhdemo-app: ready") == 1


def test_a_missing_values_file_fails_up_before_the_cluster_is_touched(stub_config: LabConfig, tmp_path: Path) -> None:
    from dataclasses import replace

    from lab.stack import Stack

    config = replace(stub_config, values_files=(tmp_path / "nope.yaml",), state_dir=tmp_path / "state")
    cluster = FakeCluster(error=AssertionError("the cluster was touched"))  # type: ignore[arg-type]
    with pytest.raises(LabError, match=r"values file .*nope.yaml does not exist"):
        Stack(config, Runner(), cluster=cluster).up()
