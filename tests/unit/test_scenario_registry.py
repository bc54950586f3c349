"""Discovery of scenario modules, `list`, and `lab scenario` through `run_scenarios`."""

from __future__ import annotations

import io
import textwrap
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from lab.errors import LabError
from lab.scenario.command import list_scenarios, run_scenarios
from lab.scenario.engine import RunOptions
from lab.scenario.fake import FakeContextFactory
from lab.scenario.registry import ScenarioError, discover

MODULE = '''
from lab.scenario import Action, ActionResult, Healthy, Scenario, Step, Succeeds

def sync(ctx):
    {sync_body}
    return ActionResult.success("helm upgrade exited 0")

def install(ctx):
    ctx.employes = {{1: ("Dupont", "Jean", "j@example.org")}}
    ctx.healthy["rhdemo-app"] = True
    return ActionResult.success()

def rotate(ctx):
    ctx.healthy["rhdemo-app"] = False
    return ActionResult.success()

SCENARIO = Scenario("{id}", "{id} title", "{summary}", ["Solution 1"], [
    Step("install", "w", Action("install", install), Healthy("rhdemo-app")),
    Step("rotate the secret", "w", Action("rotate", rotate), Succeeds()),
    Step("sync", "w", Action("sync", sync), Healthy("rhdemo-app")),
])
'''


def make_package(root: Path, modules: dict[str, str]) -> str:
    name = f"fake_scenarios_{uuid.uuid4().hex[:8]}"
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module, text in modules.items():
        (package / f"{module}.py").write_text(textwrap.dedent(text))
    return name


def scenario_module(scenario_id: str, summary: str = "one line", sync_body: str = 'ctx.healthy["rhdemo-app"] = True') -> str:
    return MODULE.format(id=scenario_id, summary=summary, sync_body=sync_body)


@pytest.fixture
def package_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_discovers_modules_exposing_scenario_and_skips_helpers(package_root: Path) -> None:
    package = make_package(package_root, {
        "rotate_password": scenario_module("rotate-password", "Problem 1: the password frozen at first init"),
        "add_migration": scenario_module("add-migration", "Test 4: a V2 migration applied once"),
        "_actions": "HELPER = True\n",
    })
    registry = discover(package)
    assert list(registry.scenarios) == ["add-migration", "rotate-password"]
    assert registry.get("rotate-password").summary == "Problem 1: the password frozen at first init"
    out = io.StringIO()
    assert list_scenarios(Console(file=out, width=120), package) == 0
    assert out.getvalue().splitlines() == [
        "add-migration    Test 4: a V2 migration applied once",
        "rotate-password  Problem 1: the password frozen at first init",
    ]


def test_unknown_scenario_is_a_clear_error_with_a_hint(package_root: Path) -> None:
    registry = discover(make_package(package_root, {"rotate_password": scenario_module("rotate-password")}))
    with pytest.raises(ScenarioError) as error:
        registry.get("rotate-pasword")
    assert isinstance(error.value, LabError)
    assert error.value.message == "no scenario 'rotate-pasword'"
    assert "did you mean 'rotate-password'?" in (error.value.hint or "")


def test_module_without_scenario_or_duplicate_ids_fail_loudly(package_root: Path) -> None:
    with pytest.raises(ScenarioError, match="has no SCENARIO"):
        discover(make_package(package_root, {"oops": "X = 1\n"}))
    with pytest.raises(ScenarioError, match="defined twice"):
        discover(make_package(package_root, {"a": scenario_module("same"), "b": scenario_module("same")}))
    with pytest.raises(ScenarioError, match="cannot import"):
        discover("no_such_scenarios_package")


def test_the_project_scenarios_package_is_discoverable() -> None:
    registry = discover()
    for scenario_id, summary in registry.summaries():
        assert scenario_id and summary


def test_run_scenarios_returns_non_zero_for_a_broken_fix_and_writes_reports(package_root: Path, tmp_path: Path) -> None:
    package = make_package(package_root, {
        "good": scenario_module("good"),
        "broken": scenario_module("broken", sync_body="pass  # the fix made to do nothing"),
    })
    out = io.StringIO()
    console = Console(file=out, width=120)
    report_dir = tmp_path / "reports"
    code = run_scenarios(["good"], FakeContextFactory(), RunOptions(report_dir=report_dir), console=console, package=package)
    assert code == 0
    assert sorted(p.name for p in report_dir.iterdir()) == ["scenarios.json", "scenarios.junit.xml", "scenarios.md"]
    code = run_scenarios([], FakeContextFactory(), RunOptions(), all_scenarios=True, console=console, package=package)
    assert code == 1
    assert "✗ broken 3. sync: rhdemo-app health: expected healthy; observed not ready: 0/1 pods ready" in out.getvalue()


def test_run_scenarios_refuses_bad_selections(package_root: Path) -> None:
    package = make_package(package_root, {"good": scenario_module("good")})
    with pytest.raises(ScenarioError, match="not both"):
        run_scenarios(["good"], FakeContextFactory(), all_scenarios=True, package=package)
    with pytest.raises(ScenarioError, match="no scenario given"):
        run_scenarios([], FakeContextFactory(), package=package)
    with pytest.raises(ScenarioError, match="no scenarios found"):
        run_scenarios([], FakeContextFactory(), all_scenarios=True, package=make_package(package_root, {}))
    with pytest.raises(ScenarioError, match="from a terminal"):
        run_scenarios(["good"], FakeContextFactory(), RunOptions(pause=True),
                      console=Console(file=io.StringIO()), package=package)
