"""Actions made of actions."""

from __future__ import annotations

from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.context import ScenarioContext


def sequence(name: str, *actions: Action) -> Action:
    """Run actions in order, stopping at the first that does not complete; evidence of all of them."""

    def run(ctx: ScenarioContext) -> ActionResult:
        evidence: list[Evidence] = []
        summaries: list[str] = []
        for item in actions:
            result = item(ctx)
            evidence.extend(result.evidence)
            summaries.append(result.summary)
            if not result.ok:
                return ActionResult(False, f"{item.name}: {result.summary}", tuple(evidence), result.timed_out)
        return ActionResult.success("; ".join(s for s in summaries if s), *evidence)

    def replay(ctx: ScenarioContext) -> list[str]:
        return [line for item in actions for line in item.commands(ctx)]

    return Action(name, run, replay)
