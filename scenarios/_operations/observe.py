"""Looking without changing anything: logs of a component, what an observer function sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.ops import ClusterOps, operation
from scenarios._operations.checks import VERDICT


def component_logs(component: str, *, container: str | None = None, name: str | None = None) -> Action:
    """Collect the logs of a component's pods (current and previous containers) as evidence."""

    def run(ops: ClusterOps) -> ActionResult:
        found = ops.workloads.logs(component, container)
        return ActionResult.success(f"{len(found)} log excerpt(s) of {component}", *found)

    return operation(name or f"logs of {component}", run,
                     (f"kubectl -n {{namespace}} logs -l app={component}" + (f" -c {container}" if container else ""),))


def observe(name: str, look: Callable[[ClusterOps], Sequence[Evidence]], replay: Sequence[str]) -> Action:
    """An action that only looks (SQL, logs) and returns what it saw plus its verdicts."""

    def run(ops: ClusterOps) -> ActionResult:
        found = list(look(ops))
        summary = "; ".join(e.fields["observed"] for e in found if e.kind == VERDICT)[:300]
        # Looking always completes; whether what it saw is right is for `holds(...)` to judge.
        return ActionResult.success(summary or f"{len(found)} item(s) observed", *found)

    return operation(name, run, tuple(replay))
