"""Reports: JUnit parsable by CI (one test case per step, failures for deviations), JSON matching its
schema, Markdown with the timeline and the image set at the top."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from lab.scenario import Action, ActionResult, Engine, Evidence, Fails, Healthy, RunResult, Scenario, Step, Succeeds
from lab.scenario.fake import FakeContext, FakeContextFactory
from lab.scenario.model import LOG
from lab.scenario.report import REPORT_SCHEMA, to_markdown, write_reports

AUTH_FAILED = 'password authentication failed for user "rhdemo"'


def _run() -> RunResult:
    def install(ctx: FakeContext) -> ActionResult:
        ctx.employes = {1: ("Dupont", "Jean", "j@example.org")}
        ctx.healthy["rhdemo-app"] = True
        return ActionResult.success("helm upgrade --install exited 0")

    def rotate(ctx: FakeContext) -> ActionResult:
        # a log with a terminal colour and a control character: neither may break the XML
        return ActionResult.failure("not ready", Evidence(LOG, "pod/rhdemo-app-1/app", f"\x1b[31mFATAL\x1b[0m: {AUTH_FAILED}\x07 ```x```"))

    def broken_sync(ctx: FakeContext) -> ActionResult:
        ctx.healthy["rhdemo-app"] = False
        return ActionResult.success("helm upgrade exited 0")

    passing = Scenario("rotate-password", "Problem 1", "rotate | the password", ["Problème 1", "Test 3"], [
        Step("Install", "PGDATA initialised with A.", Action("install", install, ["helm upgrade --install {release} chart/rhdemo"]), Healthy("rhdemo-app")),
        Step("Rotate", "POSTGRES_PASSWORD ignored.", Action("rotate", rotate), Fails(log=AUTH_FAILED)),
    ])
    failing = Scenario("broken-sync", "Broken", "the sync does nothing", ["Solution 1"], [
        Step("Install", "w", Action("install", install), Healthy("rhdemo-app")),
        Step("Sync", "w", Action("sync", broken_sync), Healthy("rhdemo-app")),
        Step("Never | reached", "w", Action("x", lambda c: ActionResult.success()), Succeeds()),
    ])
    factory = FakeContextFactory(image_set="local", diagnostic_evidence=[Evidence("status", "pod/rhdemo-app-1", "CrashLoopBackOff")])
    from lab.scenario import RunOptions
    return Engine(factory, RunOptions(fail_fast=True)).run([passing, failing])


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, dict[str, Path]]:
    run = _run()
    paths = write_reports(run, tmp_path_factory.mktemp("reports"))
    return run, {path.suffix: path for path in paths}


def test_junit_has_one_test_case_per_step_and_a_failure_per_deviation(reports: tuple[RunResult, dict[str, Path]]) -> None:
    run, paths = reports
    root = ET.parse(paths[".xml"]).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["rotate-password", "broken-sync"]
    cases = root.findall("testsuite/testcase")
    assert len(cases) == sum(len(s.records) for s in run.scenarios) == int(root.get("tests", "-1"))
    failures = root.findall("testsuite/testcase/failure")
    assert len(failures) == 1 == int(root.get("failures", "-1"))
    assert failures[0].get("type") == "deviation"
    assert failures[0].get("message") == "rhdemo-app health: expected healthy; observed not ready: 0/1 pods ready"
    assert "CrashLoopBackOff" in (failures[0].text or "")
    skipped = root.findall("testsuite/testcase/skipped")
    assert len(skipped) == 1 == int(root.get("skipped", "-1"))
    for suite in suites:
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))
        assert float(suite.get("time", "-1")) >= 0


def test_junit_properties_carry_verdicts_replay_and_evidence(reports: tuple[RunResult, dict[str, Path]]) -> None:
    _, paths = reports
    root = ET.parse(paths[".xml"]).getroot()
    rotate = root.find("testsuite[@name='rotate-password']/testcase[@name='02 Rotate']")
    assert rotate is not None
    properties = {p.get("name"): p.get("value") for p in rotate.findall("properties/property")}
    assert properties["verdict"] == "expected-failure-reproduced"
    assert properties["evidence.1"] == f"log pod/rhdemo-app-1/app: FATAL: {AUTH_FAILED} ```x```"
    install = root.find("testsuite[@name='rotate-password']/testcase[@name='01 Install']")
    assert install is not None
    assert {p.get("name"): p.get("value") for p in install.findall("properties/property")}["replay.1"] == \
        "helm upgrade --install rhdemo-rotate-password chart/rhdemo"
    assert root.find("testsuite/properties/property[@name='image_set']").get("value") == "local"  # type: ignore[union-attr]


def test_json_report_matches_its_schema(reports: tuple[RunResult, dict[str, Path]]) -> None:
    run, paths = reports
    data = json.loads(paths[".json"].read_text(encoding="utf-8"))
    jsonschema.validate(data, REPORT_SCHEMA)
    assert data["exit_code"] == 1 and data["image_set"] == "local"
    assert [s["verdict"] for s in data["scenarios"]] == ["passed", "deviation"]
    install = data["scenarios"][0]["steps"][1]
    assert install["data"]["after"]["rows"] == 1
    assert "\x1b" not in json.dumps(data)


def test_json_schema_rejects_a_wrong_report(reports: tuple[RunResult, dict[str, Path]]) -> None:
    _, paths = reports
    data = json.loads(paths[".json"].read_text(encoding="utf-8"))
    data["scenarios"][0]["steps"][0]["verdict"] = "ok"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, REPORT_SCHEMA)


def test_markdown_names_the_image_set_and_shows_the_timeline(reports: tuple[RunResult, dict[str, Path]]) -> None:
    run, paths = reports
    text = paths[".md"].read_text(encoding="utf-8")
    assert text == to_markdown(run)
    head = text.splitlines()[:4]
    assert any("Image set: **local**" in line for line in head)
    assert "| 2 | Rotate | fails: log shows 'password authentication failed for user \"rhdemo\"' | ⚠ expected failure reproduced |" in text
    assert "| 3 | Never \\| reached | succeeds | – skipped |" in text  # table cells escaped
    assert "````text" in text  # fence longer than the evidence's own backticks
    assert "✗ **rhdemo-app health** — expected healthy; observed not ready: 0/1 pods ready" in text


def test_durations_printer_reads_the_json_report(reports: tuple[RunResult, dict[str, Path]], tmp_path: Path) -> None:
    import subprocess
    import sys

    run, paths = reports
    done = subprocess.run([sys.executable, "-m", "lab.scenario.report", str(paths[".json"])],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # the report's rounded durations decide the order: the fake steps take well under a millisecond each
    recorded = json.loads(paths[".json"].read_text(encoding="utf-8"))["scenarios"]
    assert {s["id"] for s in recorded} == {s.id for s in run.scenarios}
    slowest_first = [s["id"] for s in sorted(recorded, key=lambda s: -s["duration_s"])]
    assert [line.split()[0] for line in lines] == slowest_first + ["total"]
    assert lines[0].split()[-1] in ("passed", "deviation")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    failed = subprocess.run([sys.executable, "-m", "lab.scenario.report", str(bad)], capture_output=True, text=True, check=False)
    assert failed.returncode == 2 and "cannot read the scenario report" in failed.stderr and "Traceback" not in failed.stderr
