"""A thin, typed wrapper over the real `docker` CLI for the image behaviour tests.

Every container, volume and network it creates carries a per-test name suffix and is removed by
the fixture that created it."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def pinned_versions() -> dict[str, str]:
    """KEY=VALUE pairs of .ci/versions.env (the single source of the local image names)."""
    values: dict[str, str] = {}
    for line in (REPO_ROOT / ".ci" / "versions.env").read_text().splitlines():
        match = re.fullmatch(r'([A-Z0-9_]+)=("?)(.*)\2', line.strip())
        if match:
            values[match.group(1)] = match.group(3)
    return values


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def require_image(tag: str) -> None:
    """Fail (never skip) when the image was not built: the build is part of CI."""
    if docker("image", "inspect", tag, check=False).returncode != 0:
        raise AssertionError(f"image {tag} is missing: build it with `bash .ci/lib/build-images.sh`")


@dataclass
class Resources:
    """Docker objects created by one test, removed at teardown."""

    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    def name(self, base: str) -> str:
        return f"rhdemo-lab-test-{base}-{self.suffix}"

    def volume(self, base: str) -> str:
        name = self.name(base)
        docker("volume", "create", name)
        self.volumes.append(name)
        return name

    def network(self, base: str) -> str:
        name = self.name(base)
        docker("network", "create", name)
        self.networks.append(name)
        return name

    def run_detached(self, base: str, image: str, *args: str, options: list[str] | None = None) -> str:
        name = self.name(base)
        docker("run", "-d", "--name", name, *(options or []), image, *args)
        self.containers.append(name)
        return name

    def cleanup(self) -> None:
        for container in self.containers:
            docker("rm", "-f", "-v", container, check=False)
        for network in self.networks:
            docker("network", "rm", network, check=False)
        for volume in self.volumes:
            docker("volume", "rm", "-f", volume, check=False)


def logs(container: str) -> str:
    result = docker("logs", container, check=False)
    return result.stdout + result.stderr


def wait_for_log(container: str, text: str, timeout: float = 60) -> str:
    """Waits until `text` appears in the container's output; fails with the output if it never does
    or if the container stops first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = logs(container)
        if text in output:
            return output
        state = docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip()
        if state != "true":
            output = logs(container)
            if text in output:
                return output
            raise AssertionError(f"{container} stopped before logging {text!r}:\n{output}")
        time.sleep(0.3)
    raise AssertionError(f"{container} did not log {text!r} within {timeout}s:\n{logs(container)}")


def wait_for_exit(container: str, timeout: float = 60) -> int:
    return int(docker("wait", container, timeout=timeout).stdout.strip())


def published_port(container: str, port: int = 5432) -> int:
    mapping = docker("port", container, f"{port}/tcp").stdout.splitlines()[0]
    return int(mapping.rsplit(":", 1)[1])


def container_ip(container: str) -> str:
    return docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                  container).stdout.strip()


def start_postgres_on_network(resources: Resources, image: str, network: str, alias: str,
                              user: str, password: str, database: str) -> str:
    """A postgres container from `image`, reachable as `alias` on `network`, ready when returned."""
    container = resources.run_detached(alias, image, options=[
        "--user", "70:70", "--network", network, "--network-alias", alias,
        "-e", f"POSTGRES_USER={user}", "-e", f"POSTGRES_PASSWORD={password}", "-e", f"POSTGRES_DB={database}"])
    wait_for_log(container, "PostgreSQL init process complete; ready for start up.")
    docker("exec", container, "sh", "-c",
           "i=0; until pg_isready -q; do i=$((i+1)); [ $i -lt 150 ] || exit 1; sleep 0.2; done", timeout=60)
    return container


def psql_in(container: str, user: str, database: str, sql: str) -> str:
    result = docker("exec", container, "psql", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database,
                    "-At", "-c", sql, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
