"""The small protocol through which the engine (and the scenarios' actions) reach the rest of `lab/`.

The engine never imports helm, kube, database or cluster modules: it is handed one context per
scenario by a factory `(Scenario) -> ScenarioContext` (`lab.scenario.model.ContextFactory`). The
lab's real context wires these members to `lab.config`, `lab.helm`, `lab.kube`, `lab.database` and `lab.cluster`; unit tests use
`lab.scenario.fake.FakeContext`. Actions may use anything else the real context carries
(its helm/kube/database clients): the engine only relies on what is declared here.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from lab.availability import Probe
from lab.scenario.evidence import DataSnapshot, Evidence, Health


@runtime_checkable
class ScenarioContext(Protocol):
    scenario_id: str
    namespace: str        # rhdemo-<scenario id>
    release: str          # rhdemo-<scenario id>
    config: Any           # the lab's frozen LabConfig (opaque to the engine)
    image_set: str        # the image set in use, as a human reads it ("local", "public", "mirror:...")
    # Set by the engine before each action: the step's time budget in seconds. Actions pass it on
    # (helm --timeout, kube waits) and report `ActionResult.timeout(...)` when it runs out.
    step_timeout: float

    def prepare(self) -> None:
        """Make the cluster ready (created if missing, like `lab up`, images loaded) and give the
        scenario a FRESH namespace: leftovers of an earlier `--keep` run (release, PVCs, namespace)
        are removed first, because every scenario starts from a first install (PGDATA's first init)."""

    def teardown(self) -> None:
        """Uninstall the release and delete the namespace (not called with --keep)."""

    def data_snapshot(self) -> DataSnapshot | None:
        """Row count and checksum of `employes`, or None when there is no such table yet
        (nothing installed, database not initialised). Wait (bounded) for a restarting database pod
        to be ready before counting; read through the pod's local socket as the superuser, so that
        a broken application password never blocks the count. Raise when it cannot be read: the engine
        then reports that it cannot prove nothing was lost. The checksum must cover only the columns
        of the first migration, so that adding a column (V2) is not mistaken for changed data."""

    def health(self, component: str) -> Health:
        """Is this component ("rhdemo-app", "postgresql-rhdemo", "keycloak"...) ready and serving?"""

    def diagnostics(self) -> Sequence[Evidence]:
        """What a human needs after a deviation: recent events of the namespace, pod status,
        the last log lines of failing (not ready / restarting / failed) containers."""

    def probe_availability(self) -> AbstractContextManager[Probe]:
        """Steady requests to the app's API and `/actuator/health/db` (through its Service) while the
        block runs; `figures()` once it has ended. Entering may wait (bounded) for the first connection."""

    def mask(self, text: str) -> str:
        """Hide every secret the context knows of; the engine passes all text it shows through this."""

