"""`lab` checks its input before changing anything (issue 12, item 6): with the real CLI, helm and kubectl
and an empty kubeconfig, each bad input is one clear line, exit 1, no traceback, and nothing is created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CACHE_BIN = Path(os.environ.get("RHDEMO_LAB_CACHE", "/var/cache/rhdemo-lab")) / "bin"


def lab(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "RHDEMO_LAB_STATE_DIR": str(tmp_path / "state"),
           "RHDEMO_LAB_CLUSTER_NAME": f"bad-input-{os.getpid()}", "COLUMNS": "200", "NO_COLOR": "1",
           "PATH": f"{os.environ['PATH']}:{CACHE_BIN}"}
    for name in ("RHDEMO_LAB_CONFIG", "RHDEMO_LAB_CA_CERT", "RHDEMO_LAB_VALUES_FILES", "RHDEMO_LAB_SET_VALUES"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


def one_clear_error(result: subprocess.CompletedProcess[str], *texts: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for text in texts:
        assert text in result.stderr, result.stderr


def nothing_created(tmp_path: Path) -> None:
    kind = subprocess.run([str(CACHE_BIN / "kind"), "get", "clusters"], capture_output=True, text=True)
    assert f"bad-input-{os.getpid()}" not in kind.stdout


def test_invalid_yaml_keeps_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rhdemo:\n  replicaCount: 2\n  image: [unclosed\n")
    result = lab(tmp_path, "up", "--values", str(bad))
    one_clear_error(result, f"values file {bad} is not valid YAML", "line 4, column 1")
    nothing_created(tmp_path)


def test_a_value_of_the_wrong_type_is_refused_before_the_cluster(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("rhdemo:\n  replicaCount: two\n")
    result = lab(tmp_path, "up", "--values", str(wrong))
    one_clear_error(result, "the chart refuses these values", "replicaCount")
    assert "▶" not in result.stdout  # no step started
    nothing_created(tmp_path)


def test_a_missing_ca_certificate_is_refused(tmp_path: Path) -> None:
    result = lab(tmp_path, "up", "--ca-cert", str(tmp_path / "nope.pem"))
    one_clear_error(result, "nope.pem")
    nothing_created(tmp_path)


def test_a_file_that_is_not_a_certificate_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("this is not PEM\n")
    result = lab(tmp_path, "up", "--ca-cert", str(junk))
    one_clear_error(result, "junk.pem", "no PEM certificate")
    nothing_created(tmp_path)


def test_set_without_a_value_is_refused(tmp_path: Path) -> None:
    one_clear_error(lab(tmp_path, "up", "--set", "rhdemo.replicaCount"), "is not KEY=VALUE")
    nothing_created(tmp_path)


@pytest.mark.parametrize("command", ["status", "values"])
def test_an_unknown_context_fails(tmp_path: Path, command: str) -> None:
    one_clear_error(lab(tmp_path, command, "--context", "prod-like"), "prod-like")
