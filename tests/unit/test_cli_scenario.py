"""`lab scenario` as a user types it, without a cluster: listing, bad input, and the shared actions'
pure parts (passwords never in replay lines)."""

from __future__ import annotations

from typer.testing import CliRunner

from lab.cli import app
from lab.scenario.registry import discover
from scenarios._operations.values import Password, helm_line, resolve, set_flags

runner = CliRunner()


def test_list_shows_every_scenario_with_its_summary() -> None:
    result = runner.invoke(app, ["scenario", "list"])
    assert result.exit_code == 0, result.output
    for scenario_id in discover().scenarios:
        assert scenario_id in result.output
    assert "rotate-password" in result.output and "hook-deadlock" in result.output


def test_an_unknown_scenario_is_one_clear_error_without_traceback() -> None:
    result = runner.invoke(app, ["scenario", "rotate-pasword"])
    assert result.exit_code == 1
    assert "no scenario 'rotate-pasword'" in result.output and "did you mean 'rotate-password'" in result.output
    assert "Traceback" not in result.output


def test_names_and_all_together_are_refused() -> None:
    result = runner.invoke(app, ["scenario", "--all", "rotate-password"])
    assert result.exit_code == 1 and "not both" in result.output


def test_pause_without_a_terminal_is_refused_before_touching_the_cluster() -> None:
    result = runner.invoke(app, ["scenario", "--pause", "hook-deadlock"])
    assert result.exit_code == 1
    assert "terminal" in result.output


def test_pause_and_parallel_jobs_together_are_refused_before_touching_the_cluster() -> None:
    result = runner.invoke(app, ["scenario", "--pause", "--jobs", "2", "hook-deadlock", "rollback"])
    assert result.exit_code == 1
    assert "cannot run scenarios in parallel" in result.output and "drop --jobs" in result.output
    assert runner.invoke(app, ["scenario", "--jobs", "0", "--all"]).exit_code == 2, "typer refuses --jobs 0"


def test_passwords_are_placeholders_in_replay_lines_and_real_only_in_resolved_values() -> None:
    password = Password("B")
    values = {"passwordSync": {"mode": "robust"}, "postgresql-rhdemo": {"database": {"password": password}},
              "migrations": {"files": {"V2__add_phone_column.sql": "ALTER TABLE employes ADD telephone text;\n"}}}
    line = helm_line(values)
    assert password.value not in line and "<password-B>" in line
    assert "--set-file migrations.files.V2__add_phone_column\\.sql=<file>" in line
    assert resolve(values)["postgresql-rhdemo"]["database"]["password"] == password.value
    assert len(password.value) == 24 and password.value == password.value  # made once, stable
    assert set_flags({"keycloak": {"enabled": True}}) == ["--set keycloak.enabled=true"]
