"""Finds the scenarios: every module of the top-level `scenarios` package exposing `SCENARIO`
(modules whose name starts with `_` are helpers and are not scanned)."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from dataclasses import dataclass

from lab.errors import LabError
from lab.scenario.model import Scenario

DEFAULT_PACKAGE = "scenarios"


class ScenarioError(LabError):
    """A scenario that does not exist, or a scenario module that is malformed."""


@dataclass(frozen=True)
class Registry:
    scenarios: dict[str, Scenario]  # in module-name order

    def get(self, scenario_id: str) -> Scenario:
        if scenario_id in self.scenarios:
            return self.scenarios[scenario_id]
        close = difflib.get_close_matches(scenario_id, list(self.scenarios), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(self.scenarios) or "none"
        raise ScenarioError(f"no scenario {scenario_id!r}", f"{hint}known scenarios: {known} (see `lab scenario list`)")

    def select(self, ids: list[str]) -> list[Scenario]:
        return [self.get(scenario_id) for scenario_id in ids]

    def all(self) -> list[Scenario]:
        return list(self.scenarios.values())

    def summaries(self) -> list[tuple[str, str]]:
        """(id, one-line summary) for `lab scenario list`."""
        return [(scenario.id, scenario.summary) for scenario in self.scenarios.values()]


def discover(package: str = DEFAULT_PACKAGE) -> Registry:
    try:
        root = importlib.import_module(package)
    except ImportError as error:
        raise ScenarioError(f"cannot import the scenarios package {package!r}: {error}") from error
    found: dict[str, Scenario] = {}
    origin: dict[str, str] = {}
    for module_info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        name = f"{package}.{module_info.name}"
        module = importlib.import_module(name)  # a broken scenario module must fail loudly, not vanish
        scenario = getattr(module, "SCENARIO", None)
        if not isinstance(scenario, Scenario):
            raise ScenarioError(f"module {name} has no SCENARIO = Scenario(...)",
                                "expose the scenario as SCENARIO, or prefix a helper module's name with '_'")
        if scenario.id in found:
            raise ScenarioError(f"scenario id {scenario.id!r} is defined twice: in {origin[scenario.id]} and {name}")
        found[scenario.id] = scenario
        origin[scenario.id] = name
    return Registry(found)
