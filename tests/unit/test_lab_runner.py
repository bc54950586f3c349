"""The command runner: secrets masked in logs and errors; real processes (sh) at the boundary."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from lab.runner import MASK, CommandError, Runner, ToolNotFound, mask_argv


@pytest.mark.parametrize("argv, expected", [
    (["helm", "upgrade", "--set", "db.password=s3cr3t,db.user=rhdemo"],
     ["helm", "upgrade", "--set", f"db.password={MASK},db.user=rhdemo"]),
    (["helm", "--set=keycloak.admin.password=s3cr3t"], ["helm", f"--set=keycloak.admin.password={MASK}"]),
    (["helm", "--set-string", "a.apiToken=s3cr3t"], ["helm", "--set-string", f"a.apiToken={MASK}"]),
    (["kubectl", "create", "secret", "generic", "x", "--from-literal=password=s3cr3t"],
     ["kubectl", "create", "secret", "generic", "x", f"--from-literal=password={MASK}"]),
    (["kubectl", "create", "secret", "generic", "x", "--from-literal", "password=s3cr3t"],
     ["kubectl", "create", "secret", "generic", "x", "--from-literal", f"password={MASK}"]),
    (["kubectl", "exec", "p", "--", "env", "PGPASSWORD=s3cr3t", "psql"],
     ["kubectl", "exec", "p", "--", "env", f"PGPASSWORD={MASK}", "psql"]),
    (["tool", "--password", "s3cr3t"], ["tool", "--password", MASK]),
    (["helm", "--set", "rhdemo.replicaCount=2"], ["helm", "--set", "rhdemo.replicaCount=2"]),
    (["kubectl", "get", "secret", "rhdemo-db-secret", "-o", "jsonpath={.data.password}"],
     ["kubectl", "get", "secret", "rhdemo-db-secret", "-o", "jsonpath={.data.password}"]),
])
def test_mask_argv(argv: list[str], expected: list[str]) -> None:
    assert mask_argv(argv) == expected


def test_registered_secrets_are_masked_anywhere() -> None:
    assert mask_argv(["echo", "prefix-hunter2-suffix"], {"hunter2"}) == ["echo", f"prefix-{MASK}-suffix"]


def test_run_returns_stdout_and_records_timing() -> None:
    runner = Runner()
    result = runner.run(["sh", "-c", "echo hello"])
    assert result.stdout == "hello\n" and result.returncode == 0 and result.seconds >= 0
    assert runner.history == [result]


def test_failure_carries_masked_command_exit_code_and_stderr_tail(caplog: pytest.LogCaptureFixture) -> None:
    runner = Runner()
    runner.register_secret("hunter2")
    caplog.set_level(logging.INFO, logger="lab.runner")
    script = "for i in $(seq 1 30); do echo line$i >&2; done; echo 'auth failed for hunter2' >&2; exit 3"
    with pytest.raises(CommandError) as caught:
        runner.run(["sh", "-c", script, "--set", "db.password=hunter2"])
    error = caught.value
    assert error.returncode == 3
    assert "hunter2" not in str(error) and "hunter2" not in error.command
    assert f"auth failed for {MASK}" in error.stderr_tail
    assert "line1\n" not in error.stderr_tail and "line30" in error.stderr_tail  # a tail, not everything
    assert "hunter2" not in caplog.text and f"db.password={MASK}" in caplog.text


def test_check_false_returns_the_failure() -> None:
    result = Runner().run(["sh", "-c", "exit 4"], check=False)
    assert result.returncode == 4


def test_secrets_go_through_stdin_and_env_not_argv() -> None:
    runner = Runner()
    result = runner.run(["sh", "-c", 'read line; echo "$line-$TOKEN_FROM_ENV"'], input="from-stdin\n",
                        env={"TOKEN_FROM_ENV": "from-env"})
    assert result.stdout.strip() == "from-stdin-from-env"
    assert "from-env" not in result.command and "from-stdin" not in result.command


def test_missing_tool_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ToolNotFound) as caught:
        Runner(tool_dirs=[tmp_path]).run(["no-such-tool-xyz"])
    assert "not installed" in caught.value.message and str(tmp_path) in caught.value.message
    assert caught.value.hint


def test_tools_are_found_in_extra_tool_dirs(tmp_path: Path) -> None:
    tool = tmp_path / "fake-tool-abc"
    tool.write_text("#!/bin/sh\necho found-in-cache-dir\n")
    tool.chmod(0o755)
    assert os.environ.get("PATH") and Runner(tool_dirs=[tmp_path]).run(["fake-tool-abc"]).stdout.strip() == \
        "found-in-cache-dir"


def test_timeout_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="timed out"):
        Runner().run(["sleep", "5"], timeout=0.3)
