"""The stub's image: builds for both releases on the local trixie base, runs its console script as a
non-root user, reports its release, carries no secret and stays small."""

from __future__ import annotations

import glob
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.stub.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.docker]

APP_STUB = Path(__file__).resolve().parents[3] / "app-stub"
BASE_IMAGE = os.environ.get("RHDEMO_STUB_BASE_IMAGE", "localhost/rhdemo-lab/python:3.13-trixie")
MAX_GROWTH_BYTES = 80 * 1000 * 1000


def _docker(*args: str, check: bool = True, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=600,
                          input=input_text, env={**os.environ, "DOCKER_BUILDKIT": "0"})


def extra_ca_cert() -> str:
    """The proxy's CA for pip inside the build: $EXTRA_CA_CERT_FILE, else the locally added CAs."""
    explicit = os.environ.get("EXTRA_CA_CERT_FILE")
    files = [explicit] if explicit else sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
    return "".join(Path(f).read_text() for f in files)


@pytest.fixture(scope="module")
def docker_ready() -> None:
    probe = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"no Docker engine: {probe.stderr.strip()}")
    if _docker("image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        pytest.fail(f"base image {BASE_IMAGE} is missing: run .ci/lib/build-images.sh python")


@pytest.fixture(scope="module")
def images(docker_ready: None) -> dict[str, str]:
    built: dict[str, str] = {}
    for release in ("1.0", "1.1"):
        tag = f"localhost/rhdemo-lab/rhdemo-app:test-{release}"
        result = _docker("build", "--pull=false", "-t", tag, "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
                         "--build-arg", f"APP_VERSION={release}", "--build-arg", f"EXTRA_CA_CERT={extra_ca_cert()}",
                         str(APP_STUB), check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        built[release] = tag
    return built


@pytest.fixture
def containers() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        _docker("rm", "-f", name, check=False)


@pytest.mark.parametrize("release", ["1.0", "1.1"])
def test_image_starts_and_reports_its_release(images: dict[str, str], release: str, pg_database: dict[str, str],
                                              containers: list[str]) -> None:
    name = f"rhdemo-stub-test-{uuid.uuid4().hex[:8]}"
    containers.append(name)
    port, management = free_port(), free_port()
    env = {"SPRING_DATASOURCE_URL": pg_database["jdbc_url"], "SPRING_DATASOURCE_USERNAME": pg_database["user"],
           "SPRING_DATASOURCE_PASSWORD": pg_database["password"], "SPRING_JPA_HIBERNATE_DDL_AUTO": "validate",
           "SPRING_PROFILES_ACTIVE": "stagingkub", "SERVER_PORT": str(port),
           "MANAGEMENT_SERVER_PORT": str(management)}
    # The password reaches the container through --env-file, not argv.
    env_file = Path(f"/tmp/{name}.env")
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    try:
        _docker("run", "-d", "--name", name, "--network", "host", "--env-file", str(env_file), images[release])
    finally:
        env_file.unlink()
    deadline = time.monotonic() + 30
    info = None
    while time.monotonic() < deadline:
        try:
            info = httpx.get(f"http://127.0.0.1:{management}/actuator/info", timeout=2).json()
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    logs = _docker("logs", name, check=False)
    assert info is not None, logs.stdout + logs.stderr
    assert info["app"]["version"] == release and info["model"]["version"] == release
    assert "Started RhdemoApplication" in logs.stdout
    assert httpx.get(f"http://127.0.0.1:{management}/actuator/health", timeout=5).json()["status"] == "UP"
    assert _docker("exec", name, "id", "-u").stdout.strip() == "10001"
    _docker("stop", "-t", "10", name)
    exit_code = _docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
    assert exit_code == "143"  # like the JVM after SIGTERM (128 + 15)
    assert "Graceful shutdown complete" in _docker("logs", name).stdout


def test_image_is_non_root_small_and_carries_no_secret_or_ca(images: dict[str, str]) -> None:
    base_size = int(_docker("image", "inspect", "-f", "{{.Size}}", BASE_IMAGE).stdout)
    for tag in images.values():
        assert _docker("image", "inspect", "-f", "{{.Config.User}}", tag).stdout.strip() == "10001:10001"
        growth = int(_docker("image", "inspect", "-f", "{{.Size}}", tag).stdout) - base_size
        assert growth <= MAX_GROWTH_BYTES, f"{tag} adds {growth / 1e6:.1f} MB to its base"
        history = _docker("history", "--no-trunc", tag).stdout
        config = _docker("image", "inspect", "-f", "{{json .Config}}", tag).stdout
        for text in (history, config):
            assert "BEGIN CERTIFICATE" not in text
            assert "PASSWORD" not in text
