"""Ctrl-C during `lab up`: a clean stop, exit 130, no traceback, no child left running; SIGKILL during
`lab up`: no password left on disk. (kind or helm is replaced at the process boundary by a script that
hangs, so the signal lands mid-command.)"""

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


def test_sigkill_while_helm_reads_the_values_leaves_no_password_on_disk(tmp_path: Path) -> None:
    """The lab hands values (passwords included) to helm as an in-memory file (/dev/fd/N of a memfd):
    killed with SIGKILL while helm reads them, it leaves no file holding a password anywhere it may
    write (cwd, state dir, HOME, TMPDIR, /dev/shm)."""
    password = "Pw-sigkill-3f9c1e7a"
    bin_dir, home, tmp = tmp_path / "bin", tmp_path / "home", tmp_path / "tmp"
    for path in (bin_dir, home, tmp):
        path.mkdir()
    seen = tmp_path / "helm-saw-the-password"
    helm = shutil.which("helm") or str(CACHE_BIN / "helm")
    assert os.access(helm, os.X_OK), f"helm not found on PATH nor in {CACHE_BIN} (.ci/lib/install-helm.sh)"
    # The real helm, except that `helm template` (the lab's first use of the values) records which
    # values file it was given holds the password, then hangs: the lab is killed mid-command.
    (bin_dir / "helm").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = template ]; then\n'
        '  for arg; do [ -r "$arg" ] && grep -q "$LAB_TEST_PASSWORD" "$arg" 2>/dev/null && echo "$$ $arg" > '
        f"{seen}; done\n"
        "  exec sleep 60\n"
        "fi\n"
        f'exec {helm} "$@"\n')
    (bin_dir / "kind").write_text("#!/bin/sh\nexit 1\n")  # never a cluster from this test
    for tool in ("helm", "kind"):
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "RHDEMO_LAB_TOOL_DIRS": str(bin_dir),
           "RHDEMO_LAB_CLUSTER_NAME": "rhdemo-lab-sigkill-test", "RHDEMO_LAB_STATE_DIR": str(tmp_path / "state"),
           "HOME": str(home), "TMPDIR": str(tmp), "NO_COLOR": "1", "LAB_TEST_PASSWORD": password}
    shm_before = set(Path("/dev/shm").iterdir())
    process = subprocess.Popen(
        [sys.executable, "-m", "lab", "up", "--set", f"postgresql-rhdemo.database.password={password}"],
        env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not seen.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "helm template never got the values"
            time.sleep(0.2)
        time.sleep(0.2)  # the marker is complete
        values_path = seen.read_text().split()[1]
        process.kill()
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        if seen.exists():
            os.kill(int(seen.read_text().split()[0]), signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    holding = [path for path in [*tmp_path.rglob("*"), *(set(Path("/dev/shm").iterdir()) - shm_before)]
               if path.is_file() and path != seen and password.encode() in path.read_bytes()]
    assert holding == []
    assert values_path.startswith("/dev/fd/")
