"""`--jobs`: scenarios at the same time, each in its own context; results and narration as a serial run
gives them (in order, one block per scenario, never interleaved); fail-fast and skips still hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from lab.scenario import Action, ActionResult, Engine, Healthy, RunOptions, Scenario, Step, Verdict
from lab.scenario.engine import PauseNeedsTerminal, ScenarioResult, SilentObserver, StepRecord
from lab.scenario.fake import FakeContext, FakeContextFactory


class Transcript(SilentObserver):
    """What the console would be told, in order, from which thread."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.running_seen: list[dict[str, str]] = []

    def scenario_started(self, scenario: Scenario, ctx: object) -> None:
        self.lines.append(f"start {scenario.id}")

    def step_finished(self, record: StepRecord) -> None:
        self.lines.append(f"  {record.label} {record.verdict.value}")

    def scenario_finished(self, result: ScenarioResult) -> None:
        self.lines.append(f"end {result.id}")

    def running(self, steps: dict[str, str]) -> None:
        self.running_seen.append(dict(steps))


def meeting(barrier: threading.Barrier) -> Action:
    """Returns only once every scenario sharing `barrier` is in this step at the same time."""
    def run(ctx: FakeContext) -> ActionResult:
        barrier.wait()
        ctx.healthy["rhdemo-app"] = True
        return ActionResult.success("met")
    return Action("meet the others", run)  # type: ignore[arg-type]


def scenario(sid: str, first: Action, *, second_ok: bool = True) -> Scenario:
    def second(ctx: FakeContext) -> ActionResult:
        ctx.healthy["rhdemo-app"] = second_ok
        return ActionResult.success("done")
    return Scenario(sid, sid, sid, ["Test"], steps=[
        Step("first", "w", first, Healthy("rhdemo-app")),
        Step("second", "w", Action("second", second), Healthy("rhdemo-app")),  # type: ignore[arg-type]
    ])


def blocks(lines: Sequence[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for line in lines:
        if line.startswith("start "):
            out.append([line])
        else:
            out[-1].append(line)
    return out


def test_scenarios_run_at_the_same_time_and_report_as_a_serial_run_would() -> None:
    barrier = threading.Barrier(3, timeout=10)  # three scenarios must be in their first step together
    scenarios = [scenario(f"s{n}", meeting(barrier)) for n in range(3)]
    transcript = Transcript()
    run = Engine(FakeContextFactory(), RunOptions(jobs=3), transcript).run(scenarios)
    assert [s.id for s in run.scenarios] == ["s0", "s1", "s2"], "the reports keep the scenarios' order"
    assert all(s.verdict is Verdict.PASSED for s in run.scenarios) and run.exit_code == 0
    for block in blocks(transcript.lines):  # each scenario's narration whole, never interleaved
        sid = block[0].removeprefix("start ")
        assert block[-1] == f"end {sid}" and all(not line.startswith(("start", "end")) for line in block[1:-1])
    assert sorted(b[0] for b in blocks(transcript.lines)) == ["start s0", "start s1", "start s2"]


def test_one_job_runs_them_one_after_another() -> None:
    barrier = threading.Barrier(2, timeout=0.5)
    run = Engine(FakeContextFactory(), RunOptions(jobs=1)).run([scenario("a", meeting(barrier)), scenario("b", meeting(barrier))])
    assert [r.verdict for s in run.scenarios for r in s.records if r.title == "first"] == [Verdict.DEVIATION] * 2, \
        "alone, nobody meets: the barrier breaks in each"


def test_fail_fast_stops_the_others_after_their_step_and_skips_the_rest() -> None:
    started = threading.Event()

    def slow(ctx: FakeContext) -> ActionResult:
        started.set()
        # busy long after `fails` deviates: its worker is the one free for `later`, which must then be skipped
        time.sleep(1.0)
        ctx.healthy["rhdemo-app"] = True
        return ActionResult.success()

    def failing_first(ctx: FakeContext) -> ActionResult:
        started.wait(5)
        return ActionResult.success()  # the app never became healthy: a deviation

    scenarios = [scenario("fails", Action("x", failing_first)), scenario("beside", Action("y", slow)),  # type: ignore[arg-type]
                 scenario("later", Action("z", slow))]  # type: ignore[arg-type]
    run = Engine(FakeContextFactory(), RunOptions(jobs=2, fail_fast=True)).run(scenarios)
    by_id = {s.id: s for s in run.scenarios}
    assert by_id["fails"].verdict is Verdict.DEVIATION
    assert by_id["later"].stopped == "an earlier scenario stopped the run" and by_id["later"].verdict is Verdict.SKIPPED
    assert run.exit_code == 1


def test_the_live_lines_name_each_running_scenarios_step() -> None:
    release = threading.Event()

    def held(ctx: FakeContext) -> ActionResult:
        release.wait(10)
        ctx.healthy["rhdemo-app"] = True
        return ActionResult.success()

    transcript = Transcript()
    timer = threading.Timer(2.5, release.set)  # long enough for the engine's once-a-second update
    timer.start()
    Engine(FakeContextFactory(), RunOptions(jobs=2), transcript).run(
        [scenario("a", Action("hold", held)), scenario("b", Action("hold", held))])  # type: ignore[arg-type]
    assert {"a": "1. first", "b": "1. first"} in transcript.running_seen


def test_pause_cannot_run_in_parallel() -> None:
    class Human(SilentObserver):
        interactive = True

    with pytest.raises(PauseNeedsTerminal, match="drop --jobs"):
        Engine(FakeContextFactory(), RunOptions(jobs=2, pause=True), Human()).run([scenario("a", Action("x", lambda c: ActionResult.success()))])  # type: ignore[arg-type]

