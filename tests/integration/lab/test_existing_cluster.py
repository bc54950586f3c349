"""`--context` names a cluster the lab does not own: with the real kubectl and an empty kubeconfig, the
lab says the context is unknown / does not answer, with the fix, and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def lab(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "RHDEMO_LAB_STATE_DIR": str(tmp_path / "state"),
           "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("RHDEMO_LAB_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


@pytest.fixture(autouse=True)
def needs_kubectl() -> None:
    from shutil import which

    assert which("kubectl"), "kubectl is part of the lab's requirements (see `lab doctor`)"


def test_doctor_names_the_unknown_context_and_the_fix(tmp_path: Path) -> None:
    result = lab(tmp_path, "doctor", "--context", "prod-like")
    assert result.returncode == 1
    assert "FAIL kube context     context 'prod-like' is not in your kubeconfig" in result.stdout
    assert "fix: list contexts: `kubectl config get-contexts -o name`" in result.stdout
    assert "kind " not in result.stdout.split("kube context")[0]  # an existing cluster needs no kind


def test_up_on_a_context_that_does_not_answer_stops_at_the_cluster_step(tmp_path: Path) -> None:
    result = lab(tmp_path, "up", "--context", "prod-like")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "▶ existing cluster, context prod-like" in result.stdout
    assert "cluster: failed — the cluster of context prod-like does not answer" in result.stdout
    assert "error: the cluster of context prod-like does not answer" in result.stderr
    assert "images" not in result.stdout  # the later steps did not run
    assert "Traceback" not in result.stdout + result.stderr
