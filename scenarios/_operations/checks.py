"""Expectations over what an action collected. An operation that compares (pods before/after,
history rows...) adds one `verdict` evidence item per comparison; `holds(check, description)` turns
it into one line of the step's checks, so the report shows every compared field."""

from __future__ import annotations

from collections.abc import Iterable

from lab.scenario import Evidence, Satisfies
from lab.scenario.context import ScenarioContext
from lab.scenario.model import LOG, SQL, Outcome

VERDICT = "verdict"  # evidence kind carrying one comparison made by an action


def verdict(check: str, ok: bool, observed: str) -> Evidence:
    return Evidence(VERDICT, check, f"{'✔' if ok else '✘'} {check}: {observed}",
                    {"check": check, "ok": "true" if ok else "false", "observed": observed})


def holds(check: str, description: str, *, reproduces_failure: bool = False,
          action_must_succeed: bool = True) -> Satisfies:
    """The action's comparison named `check` came out true (its observed value is shown either way)."""

    def predicate(ctx: ScenarioContext, outcome: Outcome) -> tuple[bool, str]:
        for item in outcome.result.evidence:
            if item.kind == VERDICT and item.fields.get("check") == check:
                return item.fields.get("ok") == "true", item.fields.get("observed", "")
        return False, f"the action made no {check!r} comparison ({outcome.result.summary or 'no summary'})"

    return Satisfies(description, predicate, reproduces_failure=reproduces_failure,
                     action_must_succeed=action_must_succeed)


def evidence_contains(*texts: str) -> Satisfies:
    """The action completes and its evidence, of any kind, contains each text (a pass, not a failure)."""

    def predicate(ctx: ScenarioContext, outcome: Outcome) -> tuple[bool, str]:
        blob = "\n".join(e.text for e in outcome.result.evidence)
        missing = [t for t in texts if t not in blob]
        return (not missing, "all present" if not missing else f"missing: {', '.join(map(repr, missing))}")

    return Satisfies("evidence shows " + ", ".join(map(repr, texts)), predicate)


def excerpt_shows(text: str, *, kinds: Iterable[str] = (LOG, SQL, "output"), reproduces_failure: bool = False,
                  action_must_succeed: bool = True) -> Satisfies:
    """`text` is in one excerpt (of these kinds: a log, an SQL result...) the action collected, and
    that line is shown — for a fix that works, where `Fails(...)` would call it a reproduced failure."""
    wanted = set(kinds)

    def predicate(ctx: ScenarioContext, outcome: Outcome) -> tuple[bool, str]:
        candidates = [e for e in outcome.result.evidence if e.kind in wanted]
        for item in candidates:
            if text in item.text:
                line = next((ln.strip() for ln in item.text.splitlines() if text in ln), text)
                return True, f"{item.source}: {line[:200]}"
        return False, f"not in {len(candidates)} excerpt(s)"

    return Satisfies(f"shows {text!r}", predicate, reproduces_failure=reproduces_failure,
                     action_must_succeed=action_must_succeed)
