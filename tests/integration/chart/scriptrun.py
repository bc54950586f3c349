"""Run a script taken from a rendered container the way the container would: same shell family
(POSIX `dash`, like the images' /bin/sh), the container's environment with secretKeyRef values
substituted, the host's psql against the real PostgreSQL fixture."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The images' /bin/sh is busybox ash (alpine) or dash (Debian): run with dash to stay POSIX
# (RHDEMO_TEST_SHELL="busybox sh" runs them with busybox's ash instead).
SHELL = os.environ.get("RHDEMO_TEST_SHELL", shutil.which("dash") or "/bin/sh").split()
# RHDEMO_TEST_TOOLS_DIR: a directory put first on PATH, e.g. busybox applet links (awk, tr, sort...),
# to run the scripts with the tools of an alpine image rather than the host's.
BASE_ENV = {"PATH": ":".join(filter(None, (os.environ.get("RHDEMO_TEST_TOOLS_DIR"), "/usr/local/bin:/usr/bin:/bin"))),
            "LANG": "C.UTF-8", "HOME": "/tmp"}


def container_env(c: dict[str, Any], secrets: dict[tuple[str, str], str],
                  overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The container's env: literal values, secretKeyRef looked up in `secrets`, then `overrides`
    (what differs between the pod and the test host: socket dir, port, mounted file paths, the
    downward API's fieldRef values, which must be given there)."""
    env = dict(BASE_ENV)
    overrides = overrides or {}
    for item in c.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[(ref["name"], ref["key"])]
        else:  # the downward API (the pod's IP): only the test knows the host's equivalent
            assert item["name"] in overrides, f"{item['name']} comes from {item['valueFrom']}: give it in overrides"
    env.update(overrides)
    return env


def run_script(script: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHELL, "-c", script], env=env, capture_output=True, text=True, timeout=timeout)


def start_script(script: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*SHELL, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@dataclass
class ProcessListSampler:
    """Samples the command line of every process (what `ps -eo args` shows: /proc/<pid>/cmdline) in a
    thread until stopped; reading /proc directly samples far more often than forking ps."""

    interval: float = 0.002
    seen: set[str] = field(default_factory=set)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ProcessListSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    raw = cmdline.read_bytes()
                except OSError:  # the process ended meanwhile
                    continue
                if raw:
                    self.seen.add(raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace"))
            self.samples += 1
            time.sleep(self.interval)

    def contains(self, text: str) -> bool:
        return any(text in line for line in self.seen)
