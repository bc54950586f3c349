"""The scenario model: validation and replay commands."""

from __future__ import annotations

import pytest

from lab.scenario import Action, ActionResult, Scenario, Step, Succeeds, action
from lab.scenario.fake import FakeContext
from lab.scenario.model import EVENT, Evidence


def _noop(ctx: object) -> ActionResult:
    return ActionResult.success()


def _step(title: str = "a step") -> Step:
    return Step(title, why="because", do=Action("noop", _noop), expect=Succeeds())


def test_scenario_names_its_namespace_and_freezes_its_lists() -> None:
    scenario = Scenario("rotate-password", "Problem 1", "one line", ["Problème 1"], [_step()])
    assert scenario.namespace == "rhdemo-rotate-password"
    assert isinstance(scenario.steps, tuple) and isinstance(scenario.seed, tuple)


@pytest.mark.parametrize("bad_id", ["Rotate", "rotate_password", "-x", "x-", "", "a" * 57])
def test_scenario_id_must_make_a_valid_namespace(bad_id: str) -> None:
    with pytest.raises(ValueError, match="scenario id"):
        Scenario(bad_id, "t", "s", ["Test 1"], [_step()])


def test_scenario_needs_steps_and_a_one_line_summary() -> None:
    with pytest.raises(ValueError, match="no steps"):
        Scenario("x", "t", "s", ["Test 1"], [])
    with pytest.raises(ValueError, match="one line"):
        Scenario("x", "t", "two\nlines", ["Test 1"], [_step()])


def test_step_rejects_empty_title_and_non_positive_timeout() -> None:
    with pytest.raises(ValueError, match="title"):
        _step(" ")
    with pytest.raises(ValueError, match="timeout"):
        Step("t", "w", Action("noop", _noop), Succeeds(), timeout=0)


def test_replay_fills_namespace_release_and_scenario_but_keeps_other_braces() -> None:
    @action("read the secret", "kubectl -n {namespace} get secret {release}-db -o jsonpath='{.data.password}'",
            "echo {scenario} {unknown}")
    def read_secret(ctx: object) -> ActionResult:
        return ActionResult.success()

    ctx = FakeContext("rotate-password", "rhdemo-rotate-password", "rhdemo-rotate-password")
    assert read_secret.commands(ctx) == [
        "kubectl -n rhdemo-rotate-password get secret rhdemo-rotate-password-db -o jsonpath='{.data.password}'",
        "echo rotate-password {unknown}",
    ]
    assert read_secret(ctx).ok


def test_replay_may_be_built_from_the_context() -> None:
    dynamic = Action("x", _noop, lambda ctx: [f"helm history {ctx.release} -n {ctx.namespace}"])
    ctx = FakeContext("s", "rhdemo-s", "rel")
    assert dynamic.commands(ctx) == ["helm history rel -n rhdemo-s"]


def test_event_evidence_carries_its_fields() -> None:
    event = Evidence.event(object="Pod/app-1", reason="BackOff", message="Back-off restarting failed container")
    assert event.kind == EVENT
    assert event.fields["reason"] == "BackOff"
    assert event.text == "Warning BackOff: Back-off restarting failed container"
