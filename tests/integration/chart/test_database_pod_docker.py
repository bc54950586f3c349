"""The rendered PostgreSQL pod run with Docker and the local image set (localhost/rhdemo-lab/postgres):
the image's real entrypoint, uid 70, PGDATA under the volume, the socket dir shared with the
password-sync container. Reproduces problem 1 (the password frozen at initdb) and its robust fix."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.chart.chartlib import LOCAL_IMAGE_SET, Helm, container, find, pod_spec, render

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def _docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])}...: {result.stderr}")
    return result


@pytest.fixture
def pod_dirs(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Host dirs standing for the pod's volumes: the PVC (local-path creates it 0777, owned by root),
    the socket emptyDir (0777) and the Secret volume (files 0440, group = fsGroup 70)."""
    dirs = {name: tmp_path / name for name in ("data", "run", "secret", "init")}
    for path in dirs.values():
        path.mkdir()
        path.chmod(0o777)
    dirs["secret"].chmod(0o755)
    dirs["init"].chmod(0o755)
    yield dirs
    # Files created by uid 70 inside the containers: remove them from a container too.
    _docker("run", "--rm", "-v", f"{tmp_path}:/cleanup", "--entrypoint", "/bin/sh", _image(),
            "-c", "rm -rf /cleanup/data/* /cleanup/run/*", check=False)


def _image() -> str:
    import yaml
    values = yaml.safe_load(LOCAL_IMAGE_SET.read_text())["postgresql-rhdemo"]["image"]
    return f"{values['registry']}/{values['repository']}:{values['tag']}"


@pytest.fixture(scope="module", autouse=True)
def _local_postgres_image() -> None:
    if _docker("version", check=False).returncode != 0:
        pytest.fail("Docker engine not reachable (start dockerd)")
    if _docker("image", "inspect", _image(), check=False).returncode != 0:
        pytest.fail(f"{_image()} missing: build the local image set (.ci/lib/build-images.sh)")


def _env_args(c: dict[str, Any], secrets: dict[str, str], pod_ip: str = "") -> list[str]:
    args: list[str] = []
    for item in c.get("env", []):
        value = item.get("value")
        if value is None and "fieldRef" in item["valueFrom"]:
            assert item["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP" and pod_ip, item
            value = pod_ip
        elif value is None:
            value = secrets[item["valueFrom"]["secretKeyRef"]["name"]]
        args += ["-e", f"{item['name']}={value}"]
    return args


def _write_secret(dirs: dict[str, Path], password: str) -> None:
    staging = dirs["secret"] / ".staging"
    staging.write_bytes(password.encode())
    staging.chmod(0o444)
    staging.replace(dirs["secret"] / "password")


def _start_postgres(docs: list[dict[str, Any]], dirs: dict[str, Path], name: str, password: str) -> str:
    sts = find(docs, "StatefulSet", "postgresql-rhdemo")
    spec = pod_spec(sts)
    pg = container(sts, "postgresql")
    uid, gid = spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]
    # The init ConfigMap's files, as the kubelet mounts them (0644: the entrypoint sources the .sh ones).
    for file, content in find(docs, "ConfigMap", "postgresql-rhdemo-init")["data"].items():
        (dirs["init"] / file).write_text(content)
        (dirs["init"] / file).chmod(0o644)
    _docker("run", "-d", "--name", name, "--user", f"{uid}:{gid}", *_env_args(pg, {"rhdemo-db-secret": password}),
            "-v", f"{dirs['data']}:/var/lib/postgresql/data", "-v", f"{dirs['run']}:/var/run/postgresql",
            "-v", f"{dirs['init']}:/docker-entrypoint-initdb.d:ro", pg["image"])
    probe = pg["readinessProbe"]["exec"]["command"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _docker("exec", name, *probe, check=False).returncode == 0:
            return name
        time.sleep(1)
    raise AssertionError(f"postgres never ready: {_docker('logs', name, check=False).stderr[-3000:]}")


def _tcp_login(name: str, user: str, db: str, password: str) -> bool:
    """A login from outside the container, like another pod through the Service (scram-sha-256)."""
    ip = _docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()
    env = {"PATH": "/usr/bin:/bin", "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"}
    result = subprocess.run(["psql", "-X", "-h", ip, "-U", user, "-d", db, "-tAc", "SELECT 1"],
                            env=env, capture_output=True, text=True, timeout=30)
    return result.returncode == 0


def test_password_frozen_at_initdb_then_fixed_by_the_password_sync_container(
        helm3: Helm, pod_dirs: dict[str, Path]) -> None:
    docs = render(helm3, {"passwordSync.mode": "robust",
                          "postgresql-rhdemo.initScripts": {"01-table.sql": "CREATE TABLE lp_check (id int);\n"}},
                  files=[LOCAL_IMAGE_SET])
    sts = find(docs, "StatefulSet", "postgresql-rhdemo")
    pg_name, sync_name = f"rhdemo-pg-{uuid.uuid4().hex[:6]}", f"rhdemo-sync-{uuid.uuid4().hex[:6]}"
    try:
        # First start: initdb with password A.
        _start_postgres(docs, pod_dirs, pg_name, "password-A")
        assert (pod_dirs["data"] / "pgdata" / "PG_VERSION").exists()
        assert _tcp_login(pg_name, "rhdemo", "rhdemo", "password-A")
        # Least privilege: the app's role is not the superuser; a port-forward (TCP from 127.0.0.1 inside
        # the pod) gets a password prompt, the superuser has no password, the socket stays trusted.
        socket_sql = ["exec", pg_name, "psql", "-X", "-tA", "-U", "postgres", "-d", "rhdemo", "-c"]
        assert _docker(*socket_sql, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rhdemo'").stdout.strip() == "f"
        assert _docker(*socket_sql, "SELECT tableowner FROM pg_tables WHERE tablename = 'lp_check'").stdout.strip() == "rhdemo"
        refused = _docker("exec", pg_name, "psql", "-X", "-h", "127.0.0.1", "-U", "postgres", "-d", "rhdemo",
                          "-w", "-c", "SELECT 1", check=False)
        assert refused.returncode != 0 and "no password supplied" in refused.stderr, refused.stderr
        assert not _tcp_login(pg_name, "postgres", "rhdemo", "password-A")
        # The Secret now says B and the pod restarts (problem 1): POSTGRES_PASSWORD is ignored.
        _docker("rm", "-f", pg_name)
        _start_postgres(docs, pod_dirs, pg_name, "B: it's \"new\" $HOME ü")
        logs = _docker("logs", pg_name).stdout + _docker("logs", pg_name).stderr
        assert "Skipping initialization" in logs
        assert not _tcp_login(pg_name, "rhdemo", "rhdemo", "B: it's \"new\" $HOME ü")

        # The password-sync container of the same pod: same image and uid, socket dir, Secret file and
        # network namespace (it checks the password by logging in to the pod's IP).
        sync = container(sts, "password-sync")
        spec = pod_spec(sts)
        pod_ip = _docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", pg_name).stdout.strip()
        _write_secret(pod_dirs, "B: it's \"new\" $HOME ü")
        _docker("run", "-d", "--name", sync_name, "--network", f"container:{pg_name}",
                "--user", f"{spec['securityContext']['runAsUser']}:{spec['securityContext']['runAsGroup']}",
                *_env_args(sync, {}, pod_ip), "-v", f"{pod_dirs['run']}:/var/run/postgresql",
                "-v", f"{pod_dirs['secret']}:/run/secrets/database:ro", "--entrypoint", sync["command"][0],
                sync["image"], *sync["command"][1:])
        deadline = time.monotonic() + 30
        while not _tcp_login(pg_name, "rhdemo", "rhdemo", "B: it's \"new\" $HOME ü"):
            assert time.monotonic() < deadline, _docker("logs", sync_name).stdout
            time.sleep(1)
        assert not _tcp_login(pg_name, "rhdemo", "rhdemo", "password-A")
        deadline = time.monotonic() + 10  # it logs its success after its own login check
        while "connexion vérifiée" not in _docker("logs", sync_name).stdout and time.monotonic() < deadline:
            time.sleep(0.5)
        sync_logs = _docker("logs", sync_name)
        assert "✅ mot de passe du rôle rhdemo synchronisé avec le Secret (connexion vérifiée)" in sync_logs.stdout
        server_logs = _docker("logs", pg_name)
        for output in (sync_logs.stdout, sync_logs.stderr, server_logs.stdout, server_logs.stderr):
            assert "it's \"new\"" not in output
        # PID 1 of its container: it must stop on SIGTERM, not hold the pod for its grace period.
        started = time.monotonic()
        _docker("stop", "-t", "20", sync_name)
        assert time.monotonic() - started < 10
    finally:
        _docker("rm", "-f", pg_name, sync_name, check=False)
