"""`lab up` on a real kind cluster (issue 5's acceptance).

Runs on its own cluster (`RHDEMO_LAB_TEST_CLUSTER`, default rhdemo-lab-up-<random>) with free host ports,
so "from nothing" is real and `lab down` does not take the shared CI cluster away. Configure like CI:
`RHDEMO_LAB_NODE_IMAGE=localhost/rhdemo-lab/kind-node:v1.34.4 RHDEMO_LAB_IMAGE_SET=local`.
The tests run in order and build on each other (one stack, brought up once).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.config import LabConfig, load_config
from lab.database import TableStats
from lab.kube import Kube
from lab.runner import Runner
from lab.stack import Stack, State

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(3600)]

# Unique per run by default: two runs on one machine (a developer and CI) must not share a cluster.
CLUSTER = os.environ.get("RHDEMO_LAB_TEST_CLUSTER") or f"rhdemo-lab-up-{uuid.uuid4().hex[:6]}"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every `lab` run of this module: own cluster name, free host ports, and a
    snapshot of the chart and the stub (on a developer's machine they may change during the run, and
    "nothing changed" must mean nothing changed)."""
    snapshot = tmp_path_factory.mktemp("snapshot")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache", ".mypy_cache")
    shutil.copytree(REPO / "chart" / "rhdemo", snapshot / "chart", ignore=ignore)
    shutil.copytree(REPO / "app-stub", snapshot / "app-stub", ignore=ignore)
    return {**os.environ, "RHDEMO_LAB_CLUSTER_NAME": CLUSTER, "RHDEMO_LAB_APP_HOST_PORT": str(free_port()),
            "RHDEMO_LAB_ACTUATOR_HOST_PORT": str(free_port()), "RHDEMO_LAB_CHART_PATH": str(snapshot / "chart"),
            "RHDEMO_LAB_APP_STUB_PATH": str(snapshot / "app-stub"), "COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def config(env: dict[str, str]) -> LabConfig:
    return load_config({}, env=env, cwd=Path(__file__).parent)


def lab(env: dict[str, str], *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "lab", *args], env=env, capture_output=True, text=True,
                            timeout=timeout, cwd=Path(__file__).parent)
    print(f"$ lab {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def stack(config: LabConfig) -> tuple[Stack, Runner]:
    runner = Runner(tool_dirs=config.tool_dirs)
    return Stack(config, runner), runner


def stats(config: LabConfig) -> TableStats:
    result = stack(config)[0].database_pod("rhdemo").employes_stats()
    assert result is not None, "table employes missing"
    return result


def api(config: LabConfig) -> str:
    return f"http://127.0.0.1:{config.app_host_port}/api/employes"


def wait_api(config: LabConfig, timeout: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(api(config), params={"size": 100}, timeout=10)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{api(config)} does not answer"
        time.sleep(2)


def kind_containers() -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={CLUSTER}",
                          "--format", "{{.Names}}"], capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.fixture(scope="module", autouse=True)
def no_cluster_before_and_after(env: dict[str, str]) -> Iterator[None]:
    lab(env, "down", timeout=300)
    yield
    if kind_containers():  # a failed test must not leave a cluster behind
        lab(env, "down", timeout=300)


def test_up_from_nothing_reaches_a_healthy_stack(env: dict[str, str], config: LabConfig) -> None:
    assert kind_containers() == []
    doctor = lab(env, "doctor", timeout=300)
    assert doctor.returncode == 0, doctor.stdout  # doctor says yes: up must then succeed
    result = lab(env, "up")
    assert result.returncode == 0
    assert "rhdemo stack ready" in result.stdout
    assert "cluster: created" in result.stdout and "release: created (revision 1)" in result.stdout
    assert "get secret rhdemo-db-secret" in result.stdout  # how to get the password, not the password
    health = httpx.get(f"http://127.0.0.1:{config.actuator_host_port}/actuator/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "UP"
    assert wait_api(config).json()["page"]["totalElements"] == 0
    status = lab(env, "status")
    assert status.returncode == 0 and "revision 1, deployed" in status.stdout
    # what the release really runs, read from its values
    assert f"image set {config.image_set}, app localhost/rhdemo-lab/rhdemo-app:1.0-" in status.stdout


def test_second_up_changes_nothing(config: LabConfig) -> None:
    the_stack, runner = stack(config)
    before = the_stack.helm.history(config.release)
    result = the_stack.up()
    assert [(status.step, status.state) for status in result.steps] == [
        ("cluster", State.UNCHANGED), ("images", State.UNCHANGED), ("release", State.UNCHANGED),
        ("components", State.READY)]
    assert (result.step("images").figures["built"], result.step("images").figures["loaded"]) == (0, 0)
    assert the_stack.helm.history(config.release) == before  # no new revision
    commands = [r.command for r in runner.history]
    assert not any(c.startswith(("kind load", "kind create")) or " upgrade " in c for c in commands), commands
    assert result.seconds < 60, f"a no-op up took {result.seconds:.0f}s"


def create_rows(config: LabConfig, count: int) -> None:
    for index in range(count):
        tag = uuid.uuid4().hex[:8]
        response = httpx.post(api(config), json={"prenom": f"Prenom{index}", "nom": f"Nom{tag}",
                                                 "mail": f"{tag}@example.com", "adresse": "1 rue de la Paix"},
                              timeout=10)
        assert response.status_code == 201, response.text


def test_rows_survive_up_pod_deletion_and_a_killed_up(env: dict[str, str], config: LabConfig) -> None:
    create_rows(config, 5)
    written = stats(config)
    assert written.rows == 5

    # a third `lab up`, through the CLI: said unchanged, each component once
    third = lab(env, "up")
    assert third.returncode == 0
    assert "cluster: unchanged" in third.stdout and "release: unchanged" in third.stdout
    assert third.stdout.count("deployment/rhdemo-app: ready") == 1
    assert stats(config) == written

    # every pod deleted, then up
    deleted = Kube(config.context, config.namespace).delete_pods()
    assert deleted >= 4
    assert lab(env, "up").returncode == 0
    assert stats(config) == written
    assert wait_api(config).json()["page"]["totalElements"] == 5

    # `lab up` SIGKILLed in the middle of a helm upgrade (a changed value forces one), then up again
    process = subprocess.Popen([sys.executable, "-m", "lab", "up", "--set", "rhdemo.replicaCount=2"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=Path(__file__).parent)
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="")
        if "helm upgrade --install" in line:
            break
    time.sleep(4)
    process.send_signal(signal.SIGKILL)
    process.wait()
    result = lab(env, "up")
    assert result.returncode == 0
    assert stats(config) == written
    assert wait_api(config).json()["page"]["totalElements"] == 5
    the_stack, _ = stack(config)
    current = the_stack.helm.current(config.release)
    assert current is not None and current.status == "deployed"


def test_values_and_status_mask_secrets(env: dict[str, str]) -> None:
    values = lab(env, "values")
    assert values.returncode == 0
    assert "deployed revision" in values.stderr
    for line in values.stdout.splitlines():
        if line.strip().startswith("password:"):
            assert line.strip() in ("password: '*****'", "password: ''", 'password: ""'), line


def test_down_leaves_no_cluster_and_no_container(env: dict[str, str], config: LabConfig) -> None:
    result = lab(env, "down", timeout=300)
    assert result.returncode == 0
    clusters = subprocess.run([Runner(tool_dirs=config.tool_dirs).which("kind") or "kind", "get", "clusters"],
                              capture_output=True, text=True).stdout.split()
    assert CLUSTER not in clusters
    assert kind_containers() == []
