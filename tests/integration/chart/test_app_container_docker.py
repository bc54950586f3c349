"""The rendered app container (env, application-stagingkub.yml from the ConfigMap) run with Docker
and the stub image against the real PostgreSQL fixture, then the `helm test` pods' scripts against
it: the chart's side of the contract with the app (docs/architecture.md)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.chart.chartlib import Helm, container, find, render

pytestmark = [pytest.mark.integration, pytest.mark.docker]

APP_REPOSITORY = "localhost/rhdemo-lab/rhdemo-app"


def _docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])}...: {result.stderr}")
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_tag() -> str:
    """The stub image of release 1.0: $RHDEMO_APP_IMAGE_TAG, else the tag `1.0` or a `1.0-<hash>` one."""
    if _docker("version", check=False).returncode != 0:
        pytest.fail("Docker engine not reachable (start dockerd)")
    wanted = os.environ.get("RHDEMO_APP_IMAGE_TAG")
    tags = _docker("images", "--format", "{{.Tag}}", APP_REPOSITORY).stdout.split()
    candidates = [t for t in tags if t == wanted] if wanted else (
        [t for t in tags if t == "1.0"] + sorted(t for t in tags if t.startswith("1.0-")))
    if not candidates:
        pytest.fail(f"no {APP_REPOSITORY}:{wanted or '1.0[-hash]'} image: build the stub image first")
    return candidates[0]


def _render_app(helm: Helm, db: dict[str, str], mode: str, http_port: int, management_port: int,
                tag: str) -> list[dict[str, Any]]:
    return render(helm, {
        "migrations.mode": mode, "keycloak.enabled": False,
        "rhdemo.image.registry": "localhost", "rhdemo.image.repository": "rhdemo-lab/rhdemo-app",
        "rhdemo.image.tag": tag,
        "postgresql-rhdemo.database.host": db["host"], "postgresql-rhdemo.service.port": int(db["port"]),
        "postgresql-rhdemo.database.name": db["name"], "postgresql-rhdemo.database.user": db["user"],
        "rhdemo.service.port": http_port, "rhdemo.service.managementPort": management_port,
    })


def _run_app(docs: list[dict[str, Any]], db: dict[str, str], tmp_path: Path) -> str:
    """Starts the app container as the pod would (host network: the fixture listens on 127.0.0.1)."""
    app = find(docs, "Deployment", "rhdemo-app")
    c = container(app, "rhdemo-app")
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    for name, content in find(docs, "ConfigMap", "rhdemo-app-config")["data"].items():
        (config_dir / name).write_text(content)
        (config_dir / name).chmod(0o644)
    config_dir.chmod(0o755)
    env_args: list[str] = []
    for item in c["env"]:
        value = item.get("value", db["password"])  # the only secretKeyRef is the database password
        env_args += ["-e", f"{item['name']}={value}"]
    security = app["spec"]["template"]["spec"]["securityContext"]
    name = f"rhdemo-app-{uuid.uuid4().hex[:6]}"
    _docker("run", "-d", "--name", name, "--network", "host",
            "--user", f"{security['runAsUser']}:{security['runAsGroup']}", *env_args,
            "-v", f"{config_dir}:{c['volumeMounts'][0]['mountPath']}:ro", c["image"])
    return name


def _health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/actuator/health", timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_app_starts_with_the_rendered_configuration_and_passes_the_helm_tests(
        helm3: Helm, pg_database: dict[str, str], tmp_path: Path, app_tag: str) -> None:
    db = pg_database
    http_port, management_port = _free_port(), _free_port()
    docs = _render_app(helm3, db, "app-flyway", http_port, management_port, app_tag)
    name = _run_app(docs, db, tmp_path)
    try:
        deadline = time.monotonic() + 90
        while _health(management_port) != 200:
            assert time.monotonic() < deadline, _docker("logs", name, check=False).stderr[-3000:]
            time.sleep(1)
        # The helm test pods' scripts, in the app image, against this app.
        for check in ("health", "db", "ping"):
            pod = find(docs, "Pod", f"rhdemo-app-test-{check}")
            c = pod["spec"]["containers"][0]
            url = c["env"][0]["value"].replace("rhdemo-app", "127.0.0.1")
            result = _docker("run", "--rm", "--network", "host", "--user", "10001:10001", "-e", f"CHECK_URL={url}",
                             "--entrypoint", c["command"][0], c["image"], *c["command"][1:], check=False)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "✅" in result.stdout
        logs = _docker("logs", name).stdout + _docker("logs", name).stderr
        assert db["password"] not in logs
    finally:
        _docker("rm", "-f", name, check=False)


def test_app_without_migrations_fails_schema_validation(
        helm3: Helm, pg_database: dict[str, str], tmp_path: Path, app_tag: str) -> None:
    """migrations.mode=none reproduces problem 3 on an empty database."""
    db = pg_database
    http_port, management_port = _free_port(), _free_port()
    docs = _render_app(helm3, db, "none", http_port, management_port, app_tag)
    name = _run_app(docs, db, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            logs = _docker("logs", name).stdout + _docker("logs", name).stderr
            if "Schema-validation: missing table [employes]" in logs:
                break
            assert time.monotonic() < deadline, logs[-3000:]
            time.sleep(1)
        assert _health(management_port) != 200
    finally:
        _docker("rm", "-f", name, check=False)
