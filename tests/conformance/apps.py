"""The two implementations as real processes: the stub's console script and the reference Spring Boot jar,
started with the same environment; every output line is kept with the monotonic time it was read."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

STARTED = "Started RhdemoApplication"
REPO = Path(__file__).resolve().parents[2]
IMPLEMENTATIONS = ("reference", "stub")
# A short-lived JVM: C1 only and the serial collector start it 2-3x faster on 2 cores; neither changes
# what the app logs or answers (the benchmark measures the default JVM).
JVM_OPTIONS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"]


class ReferenceAppMissing(RuntimeError):
    pass


def reference_jar() -> Path:
    """$RHDEMO_REFERENCE_JAR (exported by .ci/run), else the cached build for the current sources."""
    explicit = os.environ.get("RHDEMO_REFERENCE_JAR")
    if explicit:
        jar = Path(explicit)
    else:
        script = REPO / ".ci" / "lib" / "build-reference-app.sh"
        result = subprocess.run(["bash", str(script), "--path"], capture_output=True, text=True)
        if result.returncode != 0:
            raise ReferenceAppMissing(f"cannot locate the reference app's build: {result.stderr.strip()}")
        jar = Path(result.stdout.strip())
    if not jar.is_file():
        raise ReferenceAppMissing(f"the reference app is not built ({jar}): run .ci/lib/build-reference-app.sh")
    return jar


def stub_command() -> list[str]:
    candidate = Path(sys.executable).parent / "rhdemo-stub"
    found = str(candidate) if candidate.exists() else shutil.which("rhdemo-stub")
    if not found:
        raise RuntimeError("rhdemo-stub is not installed: pip install -e app-stub")
    return [found]


def command(implementation: str) -> list[str]:
    if implementation == "stub":
        return stub_command()
    return ["java", *JVM_OPTIONS, "-jar", str(reference_jar())]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z ")


@dataclass
class Line:
    at: float      # time.monotonic() when read
    text: str
    logged: float  # time.time() the line was logged (its own timestamp; continuation lines inherit it)


@dataclass
class AppProcess:
    implementation: str
    env: dict[str, str]
    cwd: Path
    lines: list[Line] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = int(self.env["SERVER_PORT"])
        self.management_port = int(self.env["MANAGEMENT_SERVER_PORT"])
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(command(self.implementation), env=self.env, cwd=self.cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        PROCESSES.append(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        logged = time.time()
        with open(self.cwd / "output.log", "a") as copy:  # kept with the case's work directory
            for text in self.proc.stdout:
                stamp = _STAMP.match(text)
                if stamp:
                    logged = datetime.fromisoformat(stamp.group(1)).replace(tzinfo=timezone.utc).timestamp()
                self.lines.append(Line(time.monotonic(), text.rstrip("\n"), logged))
                copy.write(text)
                copy.flush()

    @property
    def output(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def logged_since(self, wall_clock: float) -> list[str]:
        """The lines logged at or after `wall_clock` (time.time()), by their own timestamps: the pipe may
        be read late on a busy machine."""
        since_ms = int(wall_clock * 1000)  # log timestamps are truncated to the millisecond
        return [line.text for line in self.lines if round(line.logged * 1000) >= since_ms]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def management(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    def wait_started(self, timeout: float = 120) -> float:
        """Seconds from spawn to the `Started` line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if STARTED in line.text:
                    return line.at - self.started_at
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                raise AssertionError(f"{self.implementation} exited with {self.proc.returncode} before "
                                     f"starting:\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"{self.implementation} not started after {timeout}s:\n{self.output}")

    def wait_exit(self, timeout: float = 120) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.implementation} still running after {timeout}s:\n{self.output}") from None
        self._reader.join(timeout=5)
        return code

    def terminate(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


PROCESSES: list[AppProcess] = []   # every process of the session, killed at its end if a case failed midway


def kill_leftovers() -> None:
    for app in PROCESSES:
        app.kill()


def base_env(database: dict[str, str], **overrides: str | None) -> dict[str, str]:
    """The environment of the chart's Deployment, the same for both implementations."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "HOME": os.environ.get("HOME", "/tmp"),
           "SPRING_DATASOURCE_URL": database["jdbc_url"],
           "SPRING_DATASOURCE_USERNAME": database["user"],
           "SPRING_DATASOURCE_PASSWORD": database["password"],
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
