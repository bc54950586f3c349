"""Each expectation's verdicts, and the checks it reports (every mismatching field)."""

from __future__ import annotations

import pytest

from lab.scenario import (
    ActionResult, AllOf, Evidence, Fails, FailsWith, Hangs, Healthy, Outcome, Satisfies, Succeeds, Verdict,
)
from lab.scenario.fake import FakeContext
from lab.scenario.model import LOG, OUTPUT, SQL

AUTH_FAILED = 'password authentication failed for user "rhdemo"'
APP_LOG = Evidence(LOG, "pod/rhdemo-app-1/app", f"Starting RhDemoApplication\nFATAL: {AUTH_FAILED}\nApplication run failed")


def _ctx(**fields: object) -> FakeContext:
    return FakeContext("s", "rhdemo-s", "rhdemo-s", **fields)  # type: ignore[arg-type]


def _outcome(result: ActionResult, duration: float = 1.0, timeout: float = 60.0) -> Outcome:
    return Outcome(result, duration, timeout)


def test_succeeds() -> None:
    passed = Succeeds().judge(_ctx(), _outcome(ActionResult.success("exit 0")))
    assert passed.verdict is Verdict.PASSED
    failed = Succeeds().judge(_ctx(), _outcome(ActionResult.failure("helm exited 1")))
    assert failed.verdict is Verdict.DEVIATION
    assert failed.checks[0].observed == "failed: helm exited 1"


def test_healthy_asks_the_context_for_each_component() -> None:
    ctx = _ctx(healthy={"rhdemo-app": True, "keycloak": False})
    judgement = Healthy("rhdemo-app", "keycloak").judge(ctx, _outcome(ActionResult.success()))
    assert judgement.verdict is Verdict.DEVIATION
    assert [(c.what, c.ok) for c in judgement.checks] == [("action", True), ("rhdemo-app health", True), ("keycloak health", False)]
    assert Healthy("rhdemo-app").judge(ctx, _outcome(ActionResult.success())).verdict is Verdict.PASSED
    # healthy afterwards does not excuse a failed action
    assert Healthy("rhdemo-app").judge(ctx, _outcome(ActionResult.failure("x"))).verdict is Verdict.DEVIATION


def test_fails_with_the_exact_log_line_is_a_reproduced_failure() -> None:
    judgement = Fails(log=AUTH_FAILED).judge(_ctx(), _outcome(ActionResult.failure("rollout not ready", APP_LOG)))
    assert judgement.verdict is Verdict.REPRODUCED
    assert judgement.checks[1].observed == f"log pod/rhdemo-app-1/app: FATAL: {AUTH_FAILED}"


def test_fails_also_searches_command_output() -> None:
    helm = Evidence(OUTPUT, "helm upgrade", "Error: UPGRADE FAILED: pre-upgrade hooks failed: job failed: BackoffLimitExceeded")
    judgement = Fails(log="pre-upgrade hooks failed").judge(_ctx(), _outcome(ActionResult.failure("exit 1", helm)))
    assert judgement.verdict is Verdict.REPRODUCED


def test_fails_with_another_message_is_a_deviation_showing_what_was_seen() -> None:
    other = Evidence(LOG, "pod/rhdemo-app-1/app", "Connection refused")
    judgement = Fails(log=AUTH_FAILED).judge(_ctx(), _outcome(ActionResult.failure("not ready", other)))
    assert judgement.verdict is Verdict.DEVIATION
    log_check = judgement.checks[1]
    assert not log_check.ok and "Connection refused" in log_check.observed and AUTH_FAILED in log_check.expected


def test_fails_when_the_action_succeeds_is_a_deviation_even_with_the_text() -> None:
    judgement = Fails(log=AUTH_FAILED).judge(_ctx(), _outcome(ActionResult.success("exit 0", APP_LOG)))
    assert judgement.verdict is Verdict.DEVIATION
    assert [c.ok for c in judgement.checks] == [False, True]


def test_fails_with_action_fails_false_judges_only_the_observation() -> None:
    skipping = Evidence(LOG, "pod/postgresql-rhdemo-0/postgresql",
                        "PostgreSQL Database directory appears to contain a database; Skipping initialization")
    expectation = Fails(log="Skipping initialization", action_fails=False)
    assert expectation.judge(_ctx(), _outcome(ActionResult.success("upgrade ok", skipping))).verdict is Verdict.REPRODUCED
    assert expectation.describe().startswith("completes, yet")


def test_fails_needs_the_exact_failure() -> None:
    with pytest.raises(ValueError):
        Fails()


def test_fails_with_event_matches_reason_and_message() -> None:
    event = Evidence.event(object="Pod/rhdemo-app-1", reason="BackOff", message="Back-off restarting failed container app")
    result = ActionResult.failure("not ready", event)
    assert FailsWith(event="BackOff", message="restarting failed").judge(_ctx(), _outcome(result)).verdict is Verdict.REPRODUCED
    wrong = FailsWith(event="FailedMount").judge(_ctx(), _outcome(result))
    assert wrong.verdict is Verdict.DEVIATION
    assert "BackOff" in wrong.checks[1].observed
    assert FailsWith(event="BackOff").judge(_ctx(), _outcome(ActionResult.failure("x"))).checks[1].observed == "no event collected"


def test_fails_with_sql_result() -> None:
    rows = Evidence(SQL, "psql rhdemo", "SELECT to_regclass('employes')\n(null)")
    assert Fails(sql="(null)", action_fails=False).judge(_ctx(), _outcome(ActionResult.success("", rows))).verdict is Verdict.REPRODUCED


def test_hangs_until_its_deadline() -> None:
    hung = ActionResult.timeout("helm install timed out", Evidence(OUTPUT, "helm install", "Error: INSTALLATION FAILED: context deadline exceeded"))
    expectation = Hangs(message="context deadline exceeded")
    assert expectation.judge(_ctx(), _outcome(hung, duration=59.0, timeout=60.0)).verdict is Verdict.REPRODUCED
    # gave up far too early: that is not the deadlock
    assert expectation.judge(_ctx(), _outcome(hung, duration=5.0, timeout=60.0)).verdict is Verdict.DEVIATION
    finished = expectation.judge(_ctx(), _outcome(ActionResult.success("installed"), duration=20.0))
    assert finished.verdict is Verdict.DEVIATION
    assert finished.checks[0].observed == "succeeded after 20.0s: installed"
    assert Hangs(until=30).judge(_ctx(), _outcome(hung, duration=29.0, timeout=60.0)).verdict is Verdict.REPRODUCED


def test_satisfies_a_custom_predicate() -> None:
    def schema_at_v2(ctx: object, outcome: Outcome) -> tuple[bool, str]:
        return False, "schema version 1"

    judgement = Satisfies("schema at V2", schema_at_v2).judge(_ctx(), _outcome(ActionResult.success()))
    assert judgement.verdict is Verdict.DEVIATION
    assert judgement.checks[-1].observed == "schema version 1"
    reproduced = Satisfies("the change is absent", lambda ctx, o: True, reproduces_failure=True)
    assert reproduced.judge(_ctx(), _outcome(ActionResult.success())).verdict is Verdict.REPRODUCED


def test_all_of_combines_verdicts() -> None:
    ctx = _ctx(healthy={"rhdemo-app": True})
    ok = ActionResult.success("upgrade ok", APP_LOG)
    both = AllOf(Healthy("rhdemo-app"), Satisfies("row count kept", lambda c, o: True))
    assert both.judge(ctx, _outcome(ok)).verdict is Verdict.PASSED
    assert len([c for c in both.judge(ctx, _outcome(ok)).checks if c.what == "action"]) == 1
    mixed = AllOf(Fails(log=AUTH_FAILED, action_fails=False), Healthy("rhdemo-app"))
    assert mixed.judge(ctx, _outcome(ok)).verdict is Verdict.REPRODUCED
    broken = AllOf(Healthy("rhdemo-app"), Satisfies("never", lambda c, o: False))
    assert broken.judge(ctx, _outcome(ok)).verdict is Verdict.DEVIATION
