"""The scenario engine: scenarios as data (model), what they expect (expectations), how they run
(engine), how they are shown (console) and reported (report), where they are found (registry).
Scenario modules import from here: `from lab.scenario import Scenario, Step, Fails, ...`."""

from lab.scenario.context import ScenarioContext
from lab.scenario.engine import Engine, RunOptions, RunResult, ScenarioResult, StepRecord, run
from lab.scenario.expectations import AllOf, Available, Fails, FailsWith, Hangs, Healthy, Outage, Satisfies, Succeeds
from lab.scenario.model import (
    Action, ActionResult, Check, ContextFactory, DataSnapshot, Evidence, Expectation, Health, Outcome, Scenario, Step,
    Verdict, action,
)

__all__ = [
    "Action", "ActionResult", "AllOf", "Available", "Check", "ContextFactory", "DataSnapshot", "Engine", "Evidence",
    "Expectation", "Fails", "FailsWith", "Hangs", "Health", "Healthy", "Outage", "Outcome", "RunOptions", "RunResult",
    "Satisfies", "Scenario", "ScenarioContext", "ScenarioResult", "Step", "StepRecord", "Succeeds", "Verdict",
    "action", "run",
]
