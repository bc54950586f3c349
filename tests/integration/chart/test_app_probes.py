"""The app's probes agree with what Spring Boot answers on them (issue 15): the default readiness group
does not check the database; a readiness group that does (rhdemo.probes.readinessIncludesDb) gets a
Hikari connection-timeout under the probe's timeout, so a database outage reads as 503, never as a
probe timeout (Hikari waits 30 s by default)."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.chart.chartlib import CHART, Helm, container, find, render, set_args

pytestmark = pytest.mark.integration


def _app(helm: Helm, values: dict[str, object] | None = None) -> dict[str, object]:
    return container(find(render(helm, values or {}), "Deployment", "rhdemo-app"), "rhdemo-app")


def _env(app: dict[str, object]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in app["env"]}  # type: ignore[index, union-attr]


def test_default_readiness_is_springs_readiness_state_only(helm: Helm) -> None:
    app = _app(helm)
    env = _env(app)
    assert env["MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED"] == "true"
    assert "MANAGEMENT_ENDPOINT_HEALTH_GROUP_READINESS_INCLUDE" not in env
    assert "SPRING_DATASOURCE_HIKARI_CONNECTION_TIMEOUT" not in env
    assert app["readinessProbe"]["httpGet"]["path"] == "/actuator/health/readiness"  # type: ignore[index]


def test_readiness_with_db_answers_before_the_probe_times_out(helm: Helm) -> None:
    app = _app(helm, {"rhdemo.probes.readinessIncludesDb": True, "rhdemo.probes.readiness.timeoutSeconds": 5})
    env = _env(app)
    assert env["MANAGEMENT_ENDPOINT_HEALTH_GROUP_READINESS_INCLUDE"] == "readinessState,db"
    timeout_ms = int(env["SPRING_DATASOURCE_HIKARI_CONNECTION_TIMEOUT"] or 0)
    assert 250 <= timeout_ms < app["readinessProbe"]["timeoutSeconds"] * 1000  # type: ignore[index]


def test_readiness_with_db_and_a_too_short_probe_timeout_is_refused(helm: Helm) -> None:
    result = subprocess.run([str(helm.path), "template", "rhdemo", str(CHART), *set_args(
        {"rhdemo.probes.readinessIncludesDb": True, "rhdemo.probes.readiness.timeoutSeconds": 1})],
        capture_output=True, text=True)
    assert result.returncode != 0
    assert "rhdemo.probes.readiness.timeoutSeconds" in result.stderr, result.stderr


def test_a_long_in_app_migration_is_covered_by_the_startup_probe_not_killed_by_liveness(helm: Helm) -> None:
    """app-flyway migrates before Spring answers on the management port: liveness must not run meanwhile.
    The kubelet runs liveness only after the startup probe succeeded, so the start gets the startup
    probe's budget (10 min), not liveness' (70 s)."""
    app = _app(helm, {"migrations.mode": "app-flyway"})
    startup, liveness = app["startupProbe"], app["livenessProbe"]  # type: ignore[index]
    assert startup["httpGet"] == liveness["httpGet"] == {"path": "/actuator/health/liveness", "port": "management"}
    startup_budget = startup["periodSeconds"] * startup["failureThreshold"]
    liveness_budget = liveness["initialDelaySeconds"] + liveness["periodSeconds"] * liveness["failureThreshold"]
    assert startup_budget >= 600 > liveness_budget
