"""The CLI as a user types it, without a cluster: shared options where they make sense, bad input
refused with one clear line before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lab.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no developer lab.toml
    monkeypatch.setenv("RHDEMO_LAB_STATE_DIR", str(tmp_path / "state"))  # no remembered settings of a real `lab up`
    for name in ("RHDEMO_LAB_CONFIG", "RHDEMO_LAB_SET_VALUES", "RHDEMO_LAB_VALUES_FILES"):
        monkeypatch.delenv(name, raising=False)


def test_every_command_group_is_registered() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("doctor", "up", "down", "status", "values", "logs", "psql", "scenario"):
        assert command in result.output


@pytest.mark.parametrize("argv, message", [
    (["up", "--set", "rhdemo.replicaCount"], "--set 'rhdemo.replicaCount' is not KEY=VALUE"),
    (["up", "--image-set", "nexus"], "unknown image set 'nexus'"),
    (["values", "--image-set", "mirror:"], "image set 'mirror:' has no registry prefix"),
    (["status", "-o", "yaml"], "unknown output 'yaml'"),
    (["doctor", "--config", "missing.toml"], "config file missing.toml does not exist"),
])
def test_bad_input_is_one_error_line_and_exit_1(argv: list[str], message: str) -> None:
    result = runner.invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert f"error: {message}" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # an exit, not an exception the CLI let through


def test_a_shared_option_a_command_does_not_use_is_refused() -> None:
    result = runner.invoke(app, ["logs", "app", "--set", "a=b"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_shared_options_are_documented_once_on_each_command_that_takes_them() -> None:
    up = runner.invoke(app, ["up", "--help"]).output
    logs = runner.invoke(app, ["logs", "--help"]).output
    assert "--image-set" in up and "--set" in up and "--recreate" in up and "--context" in up
    assert "--context" in logs and "--image-set" not in logs


def test_up_without_a_remembered_secret_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "rhdemo-lab.settings.json").write_text(
        '{"image_set": "local", "secret_set_keys": ["postgresql-rhdemo.database.password"]}')
    result = runner.invoke(app, ["up"])
    assert result.exit_code == 1, result.output
    assert "error: the last `lab up` was given a secret with --set (postgresql-rhdemo.database.password)" in result.output
    assert "lab up --set postgresql-rhdemo.database.password=..." in result.output


def test_status_shows_what_is_deployed_and_where_each_setting_came_from(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from lab.cli.inspect import render_settings, render_status
    from lab.helm import DeployedRelease
    from lab.remembered import load_settings, record
    from lab.stack.orchestration import DeployedSettings, StatusReport

    env = {"RHDEMO_LAB_STATE_DIR": str(tmp_path / "state")}
    record(load_settings({"image_set": "local"}, env=env, cwd=tmp_path))
    settings = load_settings({"node_image": "kindest/node:v1.34.0"}, env=env, cwd=tmp_path)
    report = StatusReport(context="kind-rhdemo-lab", image_set="local", reachable=True,
                          release=DeployedRelease(2, "deployed", {}),
                          deployed=DeployedSettings("local", "localhost/rhdemo-lab/rhdemo-app:1.0-abc"))
    out = io.StringIO()
    shown = Console(file=out, width=200, color_system=None, force_terminal=False, highlight=False)
    render_status(shown, settings.config, report)
    render_settings(shown, settings.shown(), settings.path)
    text = out.getvalue()
    assert "release rhdemo: revision 2, deployed — image set local, app localhost/rhdemo-lab/rhdemo-app:1.0-abc" in text
    assert f"settings (remembered from the last `lab up` in {settings.path})" in text
    lines = {line.split()[0] + " " + line.split()[1]: line.split() for line in text.splitlines() if line.startswith("  ")}
    assert lines["image set"][-1] == "remembered" and lines["node image"][-1] == "flag"
    assert lines["values files"][-1] == "default"
