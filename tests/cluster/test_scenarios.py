"""Every scenario on the real registry-free cluster, through the real `lab scenario` command.

One invocation runs them all, several at once (they mostly wait for pods):
`lab scenario --all --jobs 3 --report-dir <reports>/all`; its wall time is printed (`-s` shows it) and kept
in the report's `duration_s`.
Reports go under `reports/scenarios` (env `RHDEMO_LAB_REPORTS` overrides the base directory) so CI
keeps the JUnit file as an artifact. Configure like CI:
`RHDEMO_LAB_NODE_IMAGE=localhost/rhdemo-lab/kind-node:v1.34.4 RHDEMO_LAB_IMAGE_SET=local`
(and `RHDEMO_LAB_CA_CERT=/etc/ssl/certs/ca-certificates.crt` behind a TLS-inspecting proxy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from lab.config import REPO_ROOT, load_config
from lab.runner import Runner
from lab.scenario import AllOf, Fails, Hangs, Outage, Satisfies, Scenario, Verdict
from lab.scenario.engine import Engine, RunOptions
from lab.scenario.live import LiveContext, LiveContextFactory
from lab.scenario.model import Expectation
from lab.scenario.registry import discover
from lab.scenario.report import JSON_FILE, JUNIT_FILE, write_reports
from tests.cluster.conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(3 * 3600)]

REPORTS = Path(os.environ.get("RHDEMO_LAB_REPORTS", REPO_ROOT / "reports")) / "scenarios"
JOBS = 3  # 2 cores: one more than the CPUs (the lab's default there), named so CI's figure says what it measured


def expected_verdict(expectation: Expectation) -> Verdict:
    """What a step must end with: the seed's failure reproduced, or passed."""
    if isinstance(expectation, (Fails, Hangs, Outage)):
        return Verdict.REPRODUCED
    if isinstance(expectation, Satisfies):
        return Verdict.REPRODUCED if expectation.reproduces_failure else Verdict.PASSED
    if isinstance(expectation, AllOf):
        parts = {expected_verdict(part) for part in expectation.parts}
        return Verdict.REPRODUCED if Verdict.REPRODUCED in parts else Verdict.PASSED
    return Verdict.PASSED


def expected_verdicts(scenario: Scenario) -> dict[str, Verdict]:
    """By step label ("S2", "1", "2", ...), as the engine numbers them; S1 (prepare) must pass."""
    verdicts = {"S1": Verdict.PASSED}
    verdicts.update({f"S{n}": expected_verdict(step.expect) for n, step in enumerate(scenario.setup, 2)})
    verdicts.update({str(n): expected_verdict(step.expect) for n, step in enumerate(scenario.steps, 1)})
    return verdicts


def describe(record: dict[str, Any]) -> str:
    failed = [f"{c['what']}: expected {c['expected']}; observed {c['observed']}" for c in record["checks"] if not c["ok"]]
    return f"{record['label']}. {record['title']}: {record['verdict']} ({record['summary']}) " + " | ".join(failed)


def test_every_scenario_ends_with_the_expected_verdicts(cluster: Cluster) -> None:
    out = REPORTS / "all"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("RHDEMO_LAB_IMAGE_SET", "local")
    command = [sys.executable, "-m", "lab", "scenario", "--all", "--jobs", str(JOBS), "--report-dir", str(out)]
    run = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=3 * 3600)
    (REPORTS / "all.console.txt").write_text(run.stdout + run.stderr, encoding="utf-8")

    report = json.loads((out / JSON_FILE).read_text(encoding="utf-8"))
    # CI prints this line after the tests: the wall time with --jobs next to the scenarios' own durations
    # (each scenario's, run beside others: their sum is what one after another would at least take)
    (REPORTS / "timing.txt").write_text(
        f"TIMING scenarios --jobs {JOBS}: wall {report['duration_s']:.0f} s; the scenarios' own durations add up to "
        f"{sum(s['duration_s'] for s in report['scenarios']):.0f} s (serial runs: docs/ci.md)\n", encoding="utf-8")
    registry = discover()
    assert [s["id"] for s in report["scenarios"]] == list(registry.scenarios), "every scenario ran, in order"
    wrong = []
    for scenario in report["scenarios"]:
        expected = expected_verdicts(registry.get(scenario["id"]))
        for record in scenario["steps"]:
            want = expected.get(record["label"], Verdict.PASSED) if record["phase"] != "cleanup" else Verdict.PASSED
            if record["verdict"] != want.value:
                wrong.append(f"{scenario['id']} {describe(record)} — expected {want.value}")
        labels = {r["label"] for r in scenario["steps"]}
        missing = set(expected) - labels
        assert not missing, f"{scenario['id']}: steps without a record: {missing}"
    assert not wrong, "\n".join(wrong)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    junit = ET.parse(out / JUNIT_FILE).getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) == sum(len(s["steps"]) for s in report["scenarios"])
    assert not junit.findall(".//failure") and not junit.findall(".//error")


class RobustSyncDisabled(LiveContext):
    """The robust sync "made to do nothing": whatever a step asks, the release runs without it."""

    def helm_values(self, values: Any, app_release: str = "1.0") -> dict[str, Any]:
        merged = super().helm_values(values, app_release)
        if merged.get("passwordSync", {}).get("mode") == "robust":
            merged["passwordSync"]["mode"] = "none"
        return merged


class BrokenFactory(LiveContextFactory):
    def __call__(self, scenario: Scenario) -> LiveContext:
        return RobustSyncDisabled(scenario.id, self.config, self.runner, self.prepared)


def test_a_broken_fix_is_a_deviation_and_fails_the_run(cluster: Cluster) -> None:
    from scenarios import rotate_password

    original = rotate_password.SCENARIO
    # install A, write rows, rotate to B without sync (reproduced), then the robust upgrade that must heal the app
    steps = [original.steps[0], original.steps[1], original.steps[2], original.steps[4]]
    assert "robust" in steps[3].title
    scenario = Scenario(id="rotate-password-broken", title=original.title, summary="robust sync disabled on purpose",
                        seed=original.seed, steps=steps)
    config = load_config({"image_set": os.environ.get("RHDEMO_LAB_IMAGE_SET", "local")})
    runner = Runner(tool_dirs=config.tool_dirs, default_timeout=config.timeouts.command)
    result = Engine(BrokenFactory(config, runner), RunOptions(fail_fast=True)).run([scenario])
    write_reports(result, REPORTS / "broken-fix")

    assert result.exit_code == 1
    records = {r.label: r for r in result.scenarios[0].records}
    assert records["3"].verdict is Verdict.REPRODUCED, "the original failure is still reproduced"
    robust = records["4"]
    assert robust.verdict is Verdict.DEVIATION
    assert robust.diagnostics, "a deviation carries diagnostics (events, pod status, last log lines)"
    assert any(c.what == "action" for c in robust.failed_checks)
    assert any('password authentication failed for user "rhdemo"' in e.text for e in robust.evidence), \
        "the evidence shows why: the app still cannot log in"


class EarlyRetirement(LiveContext):
    """The alternating rotation broken on purpose: the previous login is retired at the switch, while the
    app's old pods still use it (passwordSync.alternating.retirement=immediately)."""

    def helm_values(self, values: Any, app_release: str = "1.0") -> dict[str, Any]:
        merged = super().helm_values(values, app_release)
        if merged.get("passwordSync", {}).get("mode") == "alternating":
            merged["passwordSync"]["alternating"] = {"retirement": "immediately"}
        return merged


class EarlyRetirementFactory(LiveContextFactory):
    def __call__(self, scenario: Scenario) -> LiveContext:
        return EarlyRetirement(scenario.id, self.config, self.runner, self.prepared)


def test_a_rotation_that_retires_the_old_login_too_early_is_a_deviation(cluster: Cluster, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with Helm 4 (the all-scenario run uses Helm 3): the switch itself completes under server-side apply —
    the chart renders the login password-rotation chose — and only the availability fails."""
    from scenarios import rotate_password_live
    from tests.integration.chart.chartlib import find_helm_binaries

    helm4 = next(h for h in find_helm_binaries() if h.major == 4)
    (tmp_path / "helm").symlink_to(helm4.path)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    original = rotate_password_live.SCENARIO
    # install with A, write rows, the rotation through values that must fail no request
    steps = [original.steps[0], original.steps[1], original.steps[2]]
    assert "Rotation through values" in steps[2].title
    scenario = Scenario(id="rotate-password-early-retirement", title=original.title,
                        summary="the previous login retired while pods use it, on purpose", seed=original.seed,
                        steps=steps)
    config = load_config({"image_set": os.environ.get("RHDEMO_LAB_IMAGE_SET", "local")})
    runner = Runner(tool_dirs=config.tool_dirs, default_timeout=config.timeouts.command)
    result = Engine(EarlyRetirementFactory(config, runner), RunOptions(fail_fast=True)).run([scenario])
    write_reports(result, REPORTS / "early-retirement")

    assert result.exit_code == 1
    rotation = {r.label: r for r in result.scenarios[0].records}["3"]
    assert rotation.verdict is Verdict.DEVIATION
    assert rotation.availability is not None and rotation.availability.failed > 0, "requests failed during the switch"
    assert any(c.what == "action" and c.ok for c in rotation.checks), "the switch completed (Helm 4)"
    assert any(r.command.startswith("helm upgrade") and "--wait=watcher" in r.command for r in runner.history), \
        "Helm 4 ran the install (its --wait takes a strategy)"
    assert any(c.what == "availability" for c in rotation.failed_checks), [c.what for c in rotation.failed_checks]
