"""Runs the stub as a real process (its console script) against the real PostgreSQL fixture."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

STARTED = "Started RhdemoApplication"
MIGRATIONS = Path(__file__).resolve().parents[3] / "app-stub" / "src" / "rhdemo_stub" / "db" / "migration"


def stub_command() -> list[str]:
    """The console script installed next to the running interpreter (the dev venv), else on PATH."""
    candidate = Path(sys.executable).parent / "rhdemo-stub"
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which("rhdemo-stub")
    if not found:
        pytest.fail("rhdemo-stub is not installed: pip install -e app-stub")
    return [found]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stub:
    """One stub process; its output is collected line by line."""

    def __init__(self, env: dict[str, str], cwd: Path, args: list[str] | None = None) -> None:
        self.port = int(env["SERVER_PORT"])
        self.management_port = int(env["MANAGEMENT_SERVER_PORT"])
        self.lines: list[str] = []
        self.proc = subprocess.Popen([*stub_command(), *(args or [])], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def management(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    def wait_started(self, timeout: float = 20) -> Stub:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if STARTED in self.output:
                return self
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                raise AssertionError(f"stub exited with {self.proc.returncode} before starting:\n{self.output}")
            time.sleep(0.02)
        raise AssertionError(f"stub not started after {timeout}s:\n{self.output}")

    def wait_exit(self, timeout: float = 20) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"stub still running after {timeout}s:\n{self.output}") from None
        self._reader.join(timeout=5)
        return code

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class StubRunner:
    """Starts stubs for one test and stops whatever is still running at the end."""

    def __init__(self, database: dict[str, str], cwd: Path) -> None:
        self.database = database
        self.cwd = cwd
        self.stubs: list[Stub] = []

    def env(self, **overrides: str | None) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "SPRING_DATASOURCE_URL": self.database["jdbc_url"],
               "SPRING_DATASOURCE_USERNAME": self.database["user"],
               "SPRING_DATASOURCE_PASSWORD": self.database["password"],
               "SPRING_PROFILES_ACTIVE": "stagingkub",
               "SPRING_JPA_HIBERNATE_DDL_AUTO": "validate",
               "RHDEMO_APP_VERSION": "1.0",
               "SERVER_PORT": str(free_port()), "MANAGEMENT_SERVER_PORT": str(free_port())}
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def start(self, args: list[str] | None = None, **overrides: str | None) -> Stub:
        stub = Stub(self.env(**overrides), self.cwd, args)
        self.stubs.append(stub)
        return stub

    def run_started(self, **overrides: str | None) -> Stub:
        return self.start(**overrides).wait_started()

    def run_failing(self, **overrides: str | None) -> Stub:
        stub = self.start(**overrides)
        code = stub.wait_exit()
        assert code != 0, f"expected a startup failure, got exit {code}:\n{stub.output}"
        assert "Traceback" not in stub.output, stub.output
        return stub

    def stop_all(self) -> None:
        for stub in self.stubs:
            if stub.proc.poll() is None:
                stub.stop()


@pytest.fixture
def stubs(pg_database: dict[str, str], tmp_path: Path) -> Iterator[StubRunner]:
    runner = StubRunner(pg_database, tmp_path)
    yield runner
    for stub in runner.stubs:
        stub.kill()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def flyway_cli() -> str:
    """The real Flyway CLI: $FLYWAY_CLI, else the CI cache; missing is a failure in CI."""
    explicit = os.environ.get("FLYWAY_CLI")
    candidates = [Path(explicit)] if explicit else []
    versions = Path(__file__).resolve().parents[3] / ".ci" / "versions.env"
    pinned = dict(line.split("=", 1) for line in versions.read_text().splitlines()
                  if "=" in line and not line.startswith("#"))["FLYWAY_VERSION"].strip()
    cache = Path(os.environ.get("RHDEMO_LAB_CACHE", "/var/cache/rhdemo-lab")) / "flyway-cli" / pinned
    candidates.append(cache / f"flyway-{pinned}" / "flyway")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    message = "the real Flyway CLI is not installed: run .ci/lib/install-flyway.sh (or set FLYWAY_CLI)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_flyway(database: dict[str, str], location: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """The password goes through FLYWAY_PASSWORD, never argv."""
    env = {**os.environ, "FLYWAY_URL": database["jdbc_url"], "FLYWAY_USER": database["user"],
           "FLYWAY_PASSWORD": database["password"], "FLYWAY_LOCATIONS": f"filesystem:{location}"}
    # A short-lived JVM starts 3-4x faster without the optimising JIT (same Flyway behaviour).
    env.setdefault("JAVA_ARGS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    return subprocess.run([flyway_cli(), *command], env=env, capture_output=True, text=True, timeout=120)
