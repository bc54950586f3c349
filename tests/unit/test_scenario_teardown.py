"""A scenario's namespace is deleted off the critical path (issue 14, point 2): teardown starts the
deletion and returns; the run awaits every deletion once at the end, with a bound. A fake kubectl at
the process boundary records what the lab asks of the cluster."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab.config import LabConfig
from lab.runner import Runner
from lab.scenario.live import LiveContextFactory
from lab.scenario import Succeeds
from lab.scenario.model import Action, ActionResult, Scenario, Step


def fake_kubectl(directory: Path, namespace_state: str) -> Path:
    """`kubectl` that records argv; `get namespace` answers with a namespace in `namespace_state`
    ("absent", "active" or "terminating"); `delete ... --wait=true` and `wait` take 2 s."""
    log = directory / "argv.jsonl"
    script = directory / "kubectl"
    script.write_text(f"""#!/usr/bin/env python3
import json, sys, time
args = sys.argv[1:]
with open({str(log)!r}, "a") as handle:
    handle.write(json.dumps(args) + "\\n")
if "get" in args and "namespace" in args:
    state = {namespace_state!r}
    if state == "absent":
        sys.exit(1)
    meta = {{"name": "x"}}
    if state == "terminating":
        meta["deletionTimestamp"] = "2026-12-02T00:00:00Z"
    print(json.dumps({{"metadata": meta}}))
elif "--wait=true" in args or "wait" in args:
    time.sleep(2)
""")
    script.chmod(0o755)
    return log


def scenario(name: str) -> Scenario:
    return Scenario(id=name, title="t", summary="s", seed=(), steps=(Step("look", "why", Action("nothing", lambda c: ActionResult.success()), Succeeds()),))


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LiveContextFactory:
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    return LiveContextFactory(LabConfig(state_dir=tmp_path / "state"), Runner(tool_dirs=(tmp_path,)))


def test_teardown_starts_the_deletion_and_returns(tmp_path: Path, factory: LiveContextFactory) -> None:
    log = fake_kubectl(tmp_path, "active")
    context = factory(scenario("demo"))
    context.teardown()
    assert not any("wait" in argv or "--wait=true" in argv for argv in calls(log)), "teardown waited for the namespace to go"
    deletes = [argv for argv in calls(log) if "delete" in argv]
    assert deletes and "--wait=false" in deletes[-1] and "rhdemo-demo" in deletes[-1]
    assert not any(argv[:1] == ["uninstall"] for argv in calls(log))


def test_the_run_awaits_every_deletion_once_with_a_bound(tmp_path: Path, factory: LiveContextFactory) -> None:
    log = fake_kubectl(tmp_path, "active")
    for name in ("one", "two"):
        factory(scenario(name)).teardown()
    assert factory.settle(timeout=30) == []
    waits = [argv for argv in calls(log) if "wait" in argv]
    assert sorted(next(a for a in argv if a.startswith("namespace/")) for argv in waits) == [
        "namespace/rhdemo-one", "namespace/rhdemo-two"]
    assert all("--for=delete" in argv and any(a.startswith("--timeout=") for a in argv) for argv in waits)
    assert factory.settle(timeout=30) == [], "nothing left to await: each deletion is awaited once"
    assert len([argv for argv in calls(log) if "wait" in argv]) == 2


def test_a_namespace_still_terminating_is_awaited_before_a_fresh_start(tmp_path: Path,
                                                                        factory: LiveContextFactory) -> None:
    log = fake_kubectl(tmp_path, "terminating")
    context = factory(scenario("again"))
    context._remove_leftovers()
    recorded = calls(log)
    assert any("wait" in argv and "--for=delete" in argv and "namespace/rhdemo-again" in argv for argv in recorded)
    assert not any("delete" in argv for argv in recorded), "a namespace already going away is not deleted again"
