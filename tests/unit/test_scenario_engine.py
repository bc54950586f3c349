"""The engine against fake contexts: verdicts, nothing lost, fail-fast, finally/cleanup, keep, masking."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lab.scenario import (
    Action, ActionResult, Engine, Evidence, Fails, Healthy, RunOptions, Scenario, Step, Succeeds, Verdict,
)
from lab.scenario.engine import EXIT_DEVIATION, EXIT_INTERRUPTED, EXIT_OK, PauseNeedsTerminal, compare_data
from lab.scenario.fake import FakeContext, FakeContextFactory
from lab.scenario.model import LOG, DataSnapshot

AUTH_FAILED = 'password authentication failed for user "rhdemo"'
ROWS = {1: ("Dupont", "Jean", "jean.dupont@example.org"), 2: ("Martin", "Anne", "anne.martin@example.org")}


def act(name: str, body: Callable[[FakeContext], ActionResult | None], *replay: str) -> Action:
    """A fake action; a body returning None succeeded."""
    def run(ctx: FakeContext) -> ActionResult:  # type: ignore[override]
        ctx.state.setdefault("ran", []).append(name)
        return body(ctx) or ActionResult.success(f"{name} done")
    return Action(name, run, replay)  # type: ignore[arg-type]


def install(ctx: FakeContext) -> None:
    ctx.employes = dict(ROWS)
    ctx.healthy["rhdemo-app"] = True


def rotate_without_sync(ctx: FakeContext) -> ActionResult:
    ctx.healthy["rhdemo-app"] = False
    return ActionResult.failure("deployment/rhdemo-app not ready",
                                Evidence(LOG, "pod/rhdemo-app-1/app", f"FATAL: {AUTH_FAILED}"))


def robust_sync(ctx: FakeContext) -> None:
    ctx.healthy["rhdemo-app"] = True


def rotate_scenario(sync: Callable[[FakeContext], None] = robust_sync, **extra: object) -> Scenario:
    return Scenario(
        "rotate-password", "Problem 1", "rotate the password", ["Problème 1", "Solution 1", "Test 3"],
        steps=[
            Step("Install with password A, no sync", "PGDATA is initialised with A.",
                 act("install", install, "helm upgrade --install {release} chart/rhdemo -n {namespace}"), Healthy("rhdemo-app")),
            Step("Rotate the Secret to B, upgrade", "POSTGRES_PASSWORD is ignored once PGDATA exists.",
                 act("rotate", rotate_without_sync), Fails(log=AUTH_FAILED)),
            Step("Upgrade with the robust sync", "The sync Job logs in through the local socket.",
                 act("sync", sync), Healthy("rhdemo-app")),
        ], **extra)  # type: ignore[arg-type]


def verdicts(result_steps: list) -> list[str]:  # type: ignore[type-arg]
    return [f"{r.label}:{r.verdict.value}" for r in result_steps]


def test_a_scenario_that_goes_as_the_seed_says() -> None:
    factory = FakeContextFactory()
    run = Engine(factory).run([rotate_scenario()])
    scenario = run.scenarios[0]
    assert verdicts(scenario.records) == ["S1:passed", "1:passed", "2:expected-failure-reproduced", "3:passed", "C1:passed"]
    assert run.exit_code == EXIT_OK and scenario.verdict is Verdict.PASSED
    ctx = factory.made["rotate-password"]
    assert ctx.calls[0] == "prepare" and ctx.calls[-1] == "teardown"
    assert scenario.namespace == "rhdemo-rotate-password"
    step1 = scenario.records[1]
    assert step1.replay == ["helm upgrade --install rhdemo-rotate-password chart/rhdemo -n rhdemo-rotate-password"]
    assert step1.data is not None and step1.data.after == ctx.data_snapshot()
    assert scenario.records[2].evidence[0].text == f"FATAL: {AUTH_FAILED}"


def test_a_broken_fix_is_a_deviation_with_diagnostics_and_a_non_zero_exit() -> None:
    def sync_that_does_nothing(ctx: FakeContext) -> None:
        return None

    pod_status = Evidence("status", "pod/rhdemo-app-1", "CrashLoopBackOff, 4 restarts")
    factory = FakeContextFactory(diagnostic_evidence=[pod_status])
    run = Engine(factory).run([rotate_scenario(sync_that_does_nothing)])
    step3 = run.scenarios[0].records[3]
    assert step3.verdict is Verdict.DEVIATION
    assert [(c.what, c.observed) for c in step3.failed_checks] == [("rhdemo-app health", "not ready: 0/1 pods ready")]
    assert step3.diagnostics == [pod_status]
    assert run.exit_code == EXIT_DEVIATION
    assert factory.made["rotate-password"].calls[-1] == "teardown"


def test_the_problem_not_reproducing_is_a_deviation() -> None:
    """If the chart silently 'fixed' the problem, the failure step must not pass."""
    def rotate_that_works(ctx: FakeContext) -> None:
        return None

    scenario = rotate_scenario()
    steps = list(scenario.steps)
    steps[1] = Step(steps[1].title, steps[1].why, act("rotate", rotate_that_works), steps[1].expect)
    run = Engine(FakeContextFactory()).run([Scenario(scenario.id, scenario.title, scenario.summary, scenario.seed, steps)])
    assert run.scenarios[0].records[2].verdict is Verdict.DEVIATION
    assert run.exit_code == EXIT_DEVIATION


def _one_step(body: Callable[[FakeContext], ActionResult | None], *, expect: object = None, **step: object) -> Scenario:
    return Scenario("one", "One", "one step", ["Test 2"],
                    [Step("the step", "why", act("the action", body), expect or Succeeds(), **step)])  # type: ignore[arg-type]


def test_a_lost_row_is_a_deviation_even_when_the_action_succeeds() -> None:
    def delete_a_row(ctx: FakeContext) -> None:
        del ctx.employes[2]  # type: ignore[union-attr]

    run = Engine(FakeContextFactory(employes=dict(ROWS))).run([_one_step(delete_a_row)])
    record = run.scenarios[0].records[1]
    assert record.verdict is Verdict.DEVIATION
    assert record.data is not None and record.data.note == "2 -> 1 rows: 1 lost"
    assert run.exit_code == EXIT_DEVIATION


def test_rows_changed_in_place_or_a_dropped_table_are_deviations() -> None:
    def rename(ctx: FakeContext) -> None:
        ctx.employes[1] = ("Durand", "Jean", "jean.dupont@example.org")  # type: ignore[index]

    def drop(ctx: FakeContext) -> None:
        ctx.employes = None

    changed = Engine(FakeContextFactory(employes=dict(ROWS))).run([_one_step(rename)]).scenarios[0].records[1]
    assert changed.verdict is Verdict.DEVIATION and "content changed" in changed.data.note  # type: ignore[union-attr]
    dropped = Engine(FakeContextFactory(employes=dict(ROWS))).run([_one_step(drop)]).scenarios[0].records[1]
    assert dropped.verdict is Verdict.DEVIATION and dropped.data.note == "employes is gone: 2 rows lost"  # type: ignore[union-attr]


def test_data_comparison_rules() -> None:
    a = DataSnapshot(2, "aa")
    assert compare_data(None, None).ok
    assert compare_data(None, a).ok
    assert compare_data(a, DataSnapshot(3, "bb")).ok  # new rows are fine
    assert compare_data(a, a).note == "2 rows, checksum unchanged"
    assert not compare_data(a, DataSnapshot(2, "bb")).ok


def test_rows_that_cannot_be_counted_are_a_deviation() -> None:
    run = Engine(FakeContextFactory(employes=dict(ROWS), snapshot_error="port-forward refused")).run([_one_step(lambda c: None)])
    record = run.scenarios[0].records[1]
    assert record.verdict is Verdict.DEVIATION
    assert "port-forward refused" in record.data.note  # type: ignore[union-attr]


def test_read_only_steps_are_not_counted_and_snapshots_are_reused_between_steps() -> None:
    factory = FakeContextFactory(employes=dict(ROWS))
    scenario = Scenario("counted", "C", "c", ["Test 2"], [
        Step("a", "w", act("a", lambda c: None), Succeeds()),
        Step("b", "w", act("b", lambda c: None), Succeeds()),
        Step("look", "w", act("look", lambda c: None), Succeeds(), touches_data=False),
    ])
    run = Engine(factory).run([scenario])
    assert run.scenarios[0].records[3].data is None
    # a: before + after, b: reuses a's after + after; look: none
    assert factory.made["counted"].calls.count("data_snapshot") == 3


def test_an_action_that_raises_is_a_failed_outcome_with_its_stderr() -> None:
    class CommandError(Exception):
        stderr = "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress"

    def boom(ctx: FakeContext) -> None:
        raise CommandError("helm upgrade exited 1")

    run = Engine(FakeContextFactory()).run([_one_step(boom, expect=Fails(log="another operation"))])
    record = run.scenarios[0].records[1]
    assert record.verdict is Verdict.REPRODUCED
    assert record.summary == "CommandError: helm upgrade exited 1"
    assert [(e.kind, e.source) for e in record.evidence] == [("error", "CommandError"), ("output", "CommandError stderr")]
    assert "another operation" in record.evidence[1].text


def test_the_lab_runners_command_error_is_searchable_output() -> None:
    from lab.runner import CommandError

    def upgrade(ctx: FakeContext) -> None:
        raise CommandError("helm upgrade rhdemo-one chart/rhdemo", 1,
                           "Error: UPGRADE FAILED: pre-upgrade hooks failed: 1 error occurred:\n\t* job rhdemo-db-password-sync failed: BackoffLimitExceeded")

    record = Engine(FakeContextFactory()).run([_one_step(upgrade, expect=Fails(log="pre-upgrade hooks failed"))]).scenarios[0].records[1]
    assert record.verdict is Verdict.REPRODUCED
    assert record.evidence[1].source == "helm upgrade rhdemo-one chart/rhdemo"


def test_fail_fast_stops_the_run_at_the_first_deviation_and_still_cleans_up() -> None:
    def sync_that_does_nothing(ctx: FakeContext) -> None:
        return None

    factory = FakeContextFactory()
    first = rotate_scenario(sync_that_does_nothing)
    steps = list(first.steps) + [Step("after", "w", act("after", lambda c: None), Succeeds())]
    first = Scenario(first.id, first.title, first.summary, first.seed, steps)
    second = _one_step(lambda c: None)
    run = Engine(factory, RunOptions(fail_fast=True)).run([first, second])
    records = run.scenarios[0].records
    assert verdicts(records) == ["S1:passed", "1:passed", "2:expected-failure-reproduced", "3:deviation", "4:skipped", "C1:passed"]
    assert run.scenarios[0].stopped == "fail-fast"
    assert "after" not in factory.made["rotate-password"].state["ran"]
    assert factory.made["rotate-password"].calls[-1] == "teardown"
    assert "one" not in factory.made  # never started
    assert run.scenarios[1].verdict is Verdict.SKIPPED
    assert all(r.verdict is Verdict.SKIPPED for r in run.scenarios[1].records)


def test_without_fail_fast_the_run_goes_on_after_a_deviation() -> None:
    factory = FakeContextFactory()
    run = Engine(factory).run([rotate_scenario(lambda c: None), _one_step(lambda c: None)])
    assert run.scenarios[0].verdict is Verdict.DEVIATION
    assert run.scenarios[1].verdict is Verdict.PASSED
    assert run.exit_code == EXIT_DEVIATION


def test_finally_and_cleanup_always_run_in_order() -> None:
    order: list[str] = []

    def note(name: str, result: ActionResult | None = None) -> Action:
        return act(name, lambda c: order.append(name) or result)  # type: ignore[func-returns-value]

    scenario = Scenario("ordered", "O", "o", ["Test 1"], steps=[
        Step("first", "w", note("do first"), Succeeds(), always=[note("finally first")], cleanup=[note("cleanup first")]),
        Step("second fails", "w", note("do second", ActionResult.failure("no")), Succeeds(),
             catch=[note("catch second")], always=[note("finally second")], cleanup=[note("cleanup second")]),
        Step("third", "w", note("do third"), Succeeds()),
    ], cleanup=[note("scenario cleanup")])
    factory = FakeContextFactory()
    run = Engine(factory, RunOptions(fail_fast=True)).run([scenario])
    assert order == ["do first", "finally first", "do second", "catch second", "finally second",
                     "cleanup second", "cleanup first", "scenario cleanup"]
    assert factory.made["ordered"].calls[-1] == "teardown"
    assert [r.title for r in run.scenarios[0].records if r.phase == "cleanup"] == [
        "cleanup second", "cleanup first", "scenario cleanup", "tear down the release and namespace"]


def test_a_failing_finally_is_a_deviation() -> None:
    scenario = _one_step(lambda c: None, always=[act("restore", lambda c: ActionResult.failure("restore failed"))])
    record = Engine(FakeContextFactory()).run([scenario]).scenarios[0].records[1]
    assert record.verdict is Verdict.DEVIATION
    assert record.failed_checks[0].what == "finally: restore"


def test_ctrl_c_still_runs_finally_and_cleanup() -> None:
    def interrupted(ctx: FakeContext) -> None:
        raise KeyboardInterrupt

    order: list[str] = []
    scenario = _one_step(interrupted, always=[act("finally", lambda c: order.append("finally"))],  # type: ignore[func-returns-value]
                         cleanup=[act("cleanup", lambda c: order.append("cleanup"))])  # type: ignore[func-returns-value]
    factory = FakeContextFactory()
    run = Engine(factory).run([scenario, _one_step(lambda c: None)])
    assert order == ["finally"]  # the step's cleanup was not registered: its step never completed
    assert factory.made["one"].calls[-1] == "teardown"
    assert run.interrupted and run.exit_code == EXIT_INTERRUPTED
    assert run.scenarios[0].stopped == "interrupted"


def test_keep_leaves_the_namespace_and_skips_cleanup() -> None:
    order: list[str] = []
    scenario = _one_step(lambda c: None, cleanup=[act("cleanup", lambda c: order.append("cleanup"))])  # type: ignore[func-returns-value]
    factory = FakeContextFactory()
    run = Engine(factory, RunOptions(keep=True)).run([scenario])
    assert order == []
    assert "teardown" not in factory.made["one"].calls
    assert run.scenarios[0].kept
    assert run.exit_code == EXIT_OK


def test_a_setup_deviation_skips_the_steps() -> None:
    scenario = Scenario("setup", "S", "s", ["Test 1"],
                        setup=[Step("build images", "w", act("build", lambda c: ActionResult.failure("docker build failed")), Succeeds())],
                        steps=[Step("install", "w", act("install", install), Healthy("rhdemo-app"))])
    factory = FakeContextFactory()
    run = Engine(factory).run([scenario])
    assert verdicts(run.scenarios[0].records) == ["S1:passed", "S2:deviation", "1:skipped", "C1:passed"]
    assert "install" not in factory.made["setup"].state["ran"]


def test_a_context_that_cannot_prepare_skips_the_scenario() -> None:
    factory = FakeContextFactory(prepare_error="kind create cluster failed")
    run = Engine(factory).run([rotate_scenario()])
    records = run.scenarios[0].records
    assert records[0].verdict is Verdict.DEVIATION and "kind create cluster failed" in records[0].summary
    assert [r.verdict for r in records if r.phase == "step"] == [Verdict.SKIPPED] * 3
    assert run.exit_code == EXIT_DEVIATION


def test_a_context_factory_that_raises_is_a_deviation_and_the_run_goes_on() -> None:
    made: list[str] = []

    def factory(scenario: Scenario) -> FakeContext:
        if scenario.id == "rotate-password":
            raise RuntimeError("cluster rhdemo-lab unreachable")
        made.append(scenario.id)
        return FakeContext.for_scenario(scenario)

    run = Engine(factory).run([rotate_scenario(), _one_step(lambda c: None)])  # type: ignore[arg-type]
    assert verdicts(run.scenarios[0].records) == ["S1:deviation", "1:skipped", "2:skipped", "3:skipped", "C1:passed"]
    assert "cluster rhdemo-lab unreachable" in run.scenarios[0].records[0].summary
    assert made == ["one"] and run.scenarios[1].verdict is Verdict.PASSED
    assert run.exit_code == EXIT_DEVIATION


def test_secrets_never_reach_the_records() -> None:
    def leaky(ctx: FakeContext) -> ActionResult:
        return ActionResult.failure("psql -c ALTER USER rhdemo PASSWORD 'B-s3cret'",
                                    Evidence(LOG, "job/sync", "using password B-s3cret"))

    scenario = _one_step(leaky, expect=Fails(log="nope"))
    run = Engine(FakeContextFactory(secrets=["B-s3cret"])).run([scenario])
    record = run.scenarios[0].records[1]
    text = repr(record)
    assert "B-s3cret" not in text and "******" in text


def test_the_step_timeout_is_handed_to_the_action() -> None:
    seen: list[float] = []
    run = Engine(FakeContextFactory()).run([_one_step(lambda c: seen.append(c.step_timeout), timeout=42)])  # type: ignore[func-returns-value]
    assert seen == [42] and run.exit_code == EXIT_OK


def test_pause_without_a_terminal_is_refused() -> None:
    with pytest.raises(PauseNeedsTerminal):
        Engine(FakeContextFactory(), RunOptions(pause=True)).run([_one_step(lambda c: None)])


class ScriptedPauses:
    """An observer answering the pauses from a script (the real terminal is tested through a pty)."""

    interactive = True

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args: None

    def pause(self, record: object) -> bool:
        self.asked.append(record.label)  # type: ignore[attr-defined]
        return self.answers.pop(0)


def test_quitting_at_a_pause_stops_the_run_and_cleans_up() -> None:
    observer = ScriptedPauses([True, False])
    factory = FakeContextFactory()
    run = Engine(factory, RunOptions(pause=True), observer).run([rotate_scenario()])  # type: ignore[arg-type]
    assert observer.asked == ["1", "2"]
    assert factory.made["rotate-password"].state["ran"] == ["install"]
    assert verdicts(run.scenarios[0].records) == ["S1:passed", "1:passed", "2:skipped", "3:skipped", "C1:passed"]
    assert run.interrupted and run.exit_code == EXIT_INTERRUPTED
