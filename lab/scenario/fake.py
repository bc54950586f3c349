"""An in-memory `ScenarioContext`: the engine's tests (and anyone trying a scenario's shape) run
against it without a cluster. Fake actions read and change its fields."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.availability import API_PATH, OK, PROBED_PATHS, RATE, Availability, Sample, summarise
from lab.scenario.model import DataSnapshot, Evidence, Health, Scenario

FAKE_WINDOW = 2.0  # seconds a fake probe pretends to have requested the app


@dataclass
class FakeContext:
    scenario_id: str
    namespace: str
    release: str
    config: Any = None
    image_set: str = "fake"
    step_timeout: float = 0.0
    # employes: id -> (nom, prenom, email); None = no table yet
    employes: dict[int, tuple[str, ...]] | None = None
    healthy: dict[str, bool] = field(default_factory=dict)
    diagnostic_evidence: list[Evidence] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    snapshot_error: str | None = None      # make data_snapshot() raise this
    prepare_error: str | None = None
    calls: list[str] = field(default_factory=list)  # what the engine asked, in order
    state: dict[str, Any] = field(default_factory=dict)  # free for fake actions
    # The fake app: fake actions append failure kinds ("timeout", "HTTP 500"...) that the running
    # probe sees as failed API requests; every other request of the window succeeds.
    app_failures: list[str] = field(default_factory=list)
    probe_error: str | None = None         # make probe_availability() fail to start

    @classmethod
    def for_scenario(cls, scenario: Scenario, **fields: Any) -> FakeContext:
        return cls(scenario.id, scenario.namespace, scenario.namespace, **fields)

    def prepare(self) -> None:
        self.calls.append("prepare")
        if self.prepare_error:
            raise RuntimeError(self.prepare_error)

    def teardown(self) -> None:
        self.calls.append("teardown")

    def data_snapshot(self) -> DataSnapshot | None:
        self.calls.append("data_snapshot")
        if self.snapshot_error:
            raise RuntimeError(self.snapshot_error)
        if self.employes is None:
            return None
        content = "\n".join(f"{key}|{'|'.join(row)}" for key, row in sorted(self.employes.items()))
        return DataSnapshot(len(self.employes), hashlib.sha256(content.encode()).hexdigest()[:16])

    def health(self, component: str) -> Health:
        self.calls.append(f"health {component}")
        ok = self.healthy.get(component, False)
        return Health(ok, "ready" if ok else "not ready: 0/1 pods ready")

    def diagnostics(self) -> Sequence[Evidence]:
        self.calls.append("diagnostics")
        return list(self.diagnostic_evidence)

    def probe_availability(self) -> FakeProbe:
        return FakeProbe(self)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "******")
        return text


class FakeProbe:
    """`RATE` successful requests a second to each probed path for `FAKE_WINDOW` seconds, plus one
    failed API request per kind the step's fake action put in `app_failures`."""

    def __init__(self, context: FakeContext) -> None:
        self.context = context
        self._figures: Availability | None = None

    def __enter__(self) -> FakeProbe:
        self.context.calls.append("probe start")
        if self.context.probe_error:
            raise RuntimeError(self.context.probe_error)
        self.context.app_failures.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        self.context.calls.append("probe stop")
        ticks = int(FAKE_WINDOW * RATE)
        samples = [Sample(path, n / RATE, 0.01, OK) for n in range(ticks) for path in PROBED_PATHS]
        failures = [Sample(API_PATH, FAKE_WINDOW / 2 + n / RATE / 10, 2.0, kind)
                    for n, kind in enumerate(self.context.app_failures)]
        self._figures = summarise(samples + failures, FAKE_WINDOW)
        self.context.app_failures.clear()

    def figures(self) -> Availability:
        if self._figures is None:
            raise RuntimeError("the fake probe has not run")
        return self._figures


class FakeContextFactory:
    """`(Scenario) -> FakeContext`, remembering every context it made; `defaults` seed each one."""

    def __init__(self, **defaults: Any) -> None:
        self.defaults = defaults
        self.made: dict[str, FakeContext] = {}

    def __call__(self, scenario: Scenario) -> FakeContext:
        fields = {key: (value.copy() if hasattr(value, "copy") else value) for key, value in self.defaults.items()}
        context = FakeContext.for_scenario(scenario, **fields)
        self.made[scenario.id] = context
        return context
