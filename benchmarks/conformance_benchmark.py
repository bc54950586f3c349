"""Startup time and memory of the stub and of the reference Spring Boot app, side by side (prints,
asserts nothing). For each implementation and run: wall time from process start to readiness
(/actuator/health/readiness = 200) on a migrated database, then RSS at ready. The reference app runs
with the JVM's defaults (the conformance suite's C1-only flags are for test speed, not measured here).

Run from the repository root, after .ci/lib/build-reference-app.sh:
    .venv/bin/python benchmarks/conformance_benchmark.py [--runs N]
It starts its own throwaway PostgreSQL (tests/pgserver.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conformance.apps import base_env, reference_jar, stub_command  # noqa: E402
from tests.conformance.servers import remove  # noqa: E402
from tests.pgserver import start_server  # noqa: E402

PASSWORD = "bench-Passw0rd"


def _command(implementation: str) -> list[str]:
    return stub_command() if implementation == "stub" else ["java", "-jar", str(reference_jar())]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure(implementation: str, database: dict[str, str], workdir: Path) -> tuple[float, float]:
    env = base_env(database, RHDEMO_APP_VERSION="1.1")
    url = f"http://127.0.0.1:{env['MANAGEMENT_SERVER_PORT']}/actuator/health/readiness"
    started = time.monotonic()
    proc = subprocess.Popen(_command(implementation), env=env, cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with httpx.Client(timeout=1) as client:
            while True:
                try:
                    if client.get(url).status_code == 200:
                        return time.monotonic() - started, _rss_mb(proc.pid)
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None:
                    raise SystemExit(f"{implementation} exited with {proc.returncode} before becoming ready")
                time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = start_server()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"rhdemo-bench-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        user = "rhdemo"
        name = server.create_database(owner=user, password=PASSWORD)
        database = {"jdbc_url": server.jdbc_url(name), "user": user, "password": PASSWORD}
        # One start migrates the database; the measured starts then validate it, like a redeploy.
        _measure("stub", database, workdir)
        results: dict[str, list[tuple[float, float]]] = {"reference": [], "stub": []}
        for _ in range(args.runs):
            for implementation in results:
                results[implementation].append(_measure(implementation, database, workdir))
        print(f"{'':18}{'reference (Spring Boot 3.5)':>32}{'stub':>24}")
        for label, index, unit in (("start to ready", 0, "s"), ("RSS at ready", 1, "MB")):
            cells = []
            for implementation in ("reference", "stub"):
                values = [run[index] for run in results[implementation]]
                fmt = "{:.2f}" if unit == "s" else "{:.0f}"
                cells.append(f"{fmt.format(statistics.median(values))} {unit} "
                             f"({fmt.format(min(values))}-{fmt.format(max(values))})")
            print(f"{label:18}{cells[0]:>32}{cells[1]:>24}")
        print(f"runs: {args.runs} each (median, min-max); cores: {os.cpu_count()}")
    finally:
        remove(server)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
