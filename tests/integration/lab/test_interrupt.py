"""Ctrl-C during `lab up`: a clean stop, exit 130, no traceback, no child left running.
(kind is replaced at the process boundary by a script that hangs, so the interrupt lands mid-command.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.docker]

CACHE_BIN = Path(os.environ.get("RHDEMO_LAB_CACHE", "/var/cache/rhdemo-lab")) / "bin"


def test_ctrl_c_mid_command(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "kind-started"
    (bin_dir / "kind").write_text(f"#!/bin/sh\necho $$ > {marker}\nexec sleep 60\n")
    (bin_dir / "kind").chmod(0o755)
    # The real helm: `lab up` renders the desired release (helm template) before it touches the cluster.
    helm = shutil.which("helm") or str(CACHE_BIN / "helm")
    assert os.access(helm, os.X_OK), f"helm not found on PATH nor in {CACHE_BIN} (.ci/lib/install-helm.sh)"
    (bin_dir / "helm").symlink_to(helm)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "RHDEMO_LAB_TOOL_DIRS": str(bin_dir),
           "RHDEMO_LAB_CLUSTER_NAME": "rhdemo-lab-interrupt-test", "RHDEMO_LAB_STATE_DIR": str(tmp_path / "state"),
           "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "lab", "up"], env=env, cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "kind was never called"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted" in stderr and "Traceback" not in stdout + stderr
    kind_pid = int(marker.read_text())
    deadline = time.monotonic() + 10
    while is_running(kind_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not is_running(kind_pid), "the interrupted kind is still running"


def is_running(pid: int) -> bool:
    """Alive and not a zombie: a killed child whose parent already exited may wait a moment to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
