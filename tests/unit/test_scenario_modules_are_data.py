"""Scenario modules are data: steps, narration, values and the operations they name. Everything
that acts on a cluster lives in `scenarios/_operations/` (typed, unit-tested on fakes)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lab.config import REPO_ROOT

SCENARIO_MODULES = sorted(p for p in (REPO_ROOT / "scenarios").glob("*.py") if not p.name.startswith("_"))
MODEL_IMPORTS = ("__future__", "typing", "lab.scenario")
OPERATIONS = "scenarios._operations."


def test_there_are_scenario_modules() -> None:
    assert len(SCENARIO_MODULES) >= 9


@pytest.mark.parametrize("path", SCENARIO_MODULES, ids=lambda p: p.stem)
def test_a_scenario_module_imports_only_the_model_and_the_operations(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    wrong = [name for name in imported if name not in MODEL_IMPORTS and not name.startswith(OPERATIONS)]
    assert not wrong, f"{path.name} imports {wrong}: acting on a cluster belongs in scenarios/_operations/"


@pytest.mark.parametrize("path", SCENARIO_MODULES, ids=lambda p: p.stem)
def test_no_function_of_a_scenario_module_takes_a_context(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    acting = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
              and any(arg.arg in ("ctx", "ops", "context") for arg in node.args.args)]
    assert not acting, f"{path.name}: {acting} act on a context; make them operations in scenarios/_operations/"
