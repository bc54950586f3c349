"""Figures for the stub app (prints, asserts nothing):
- time from process start to readiness (/actuator/health/readiness = 200), database already up and migrated;
- resident memory (RSS) after 1,000 API requests, and around a 150 MB POST (refused unread: 413);
- image size and growth over its base, when a Docker engine is available.

Run from the repository root:  /opt/rhdemo-lab-venv/bin/python benchmarks/stub_benchmark.py [--runs N]
It starts its own throwaway PostgreSQL (tests/pgserver.py) and the `rhdemo-stub` console script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.stub.conftest import free_port, stub_command  # noqa: E402
from tests.pgserver import start_server  # noqa: E402

PASSWORD = "bench-Passw0rd"


def _env(jdbc_url: str, user: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SPRING_DATASOURCE_URL": jdbc_url,
            "SPRING_DATASOURCE_USERNAME": user, "SPRING_DATASOURCE_PASSWORD": PASSWORD,
            "SPRING_JPA_HIBERNATE_DDL_AUTO": "validate", "SPRING_PROFILES_ACTIVE": "stagingkub",
            "RHDEMO_APP_VERSION": "1.1", "SERVER_PORT": str(free_port()), "MANAGEMENT_SERVER_PORT": str(free_port())}


def _start_and_wait(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    url = f"http://127.0.0.1:{env['MANAGEMENT_SERVER_PORT']}/actuator/health/readiness"
    started = time.monotonic()
    proc = subprocess.Popen(stub_command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with httpx.Client(timeout=1) as client:
        while True:
            try:
                if client.get(url).status_code == 200:
                    return proc, time.monotonic() - started
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"the stub exited with {proc.returncode} before becoming ready")
            time.sleep(0.005)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def bench_startup(jdbc_url: str, user: str, runs: int) -> None:
    proc, first = _start_and_wait(_env(jdbc_url, user))  # migrates the empty database
    _stop(proc)
    times = []
    for _ in range(runs):
        proc, elapsed = _start_and_wait(_env(jdbc_url, user))
        times.append(elapsed)
        _stop(proc)
    print(f"startup to ready, first start on an empty database (migrates V1+V2): {first * 1000:.0f} ms")
    print(f"startup to ready, database up and migrated, {runs} runs: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")


def bench_rss(jdbc_url: str, user: str, requests: int = 1000) -> None:
    env = _env(jdbc_url, user)
    proc, _ = _start_and_wait(env)
    base = f"http://127.0.0.1:{env['SERVER_PORT']}/api/employes"
    rss_ready = _rss_kib(proc.pid)
    started = time.monotonic()
    with httpx.Client(timeout=10) as client:
        for n in range(requests):
            if n % 4 == 0:
                client.post(base, json={"prenom": "P", "nom": f"N{n}", "mail": f"bench{n}-{time.time_ns()}@rhdemo.fr"})
            elif n % 4 == 1:
                client.get(base, params={"page": 0, "size": 20})
            elif n % 4 == 2:
                client.get(f"{base}/1")
            else:
                client.get(base, params={"sort": "nom,desc", "size": 5})
    elapsed = time.monotonic() - started
    rss_after = _rss_kib(proc.pid)
    _stop(proc)
    print(f"RSS when ready: {rss_ready / 1024:.1f} MiB; after {requests} API requests: {rss_after / 1024:.1f} MiB "
          f"({requests / elapsed:.0f} requests/s, sequential, one client)")


def bench_big_body(jdbc_url: str, user: str, megabytes: int = 150) -> None:
    """A 150 MB POST streamed to the stub: it answers 413 from the announced length and never holds it."""
    env = _env(jdbc_url, user)
    proc, _ = _start_and_wait(env)
    size = megabytes * 1024 * 1024
    chunk = b"A" * (1024 * 1024)

    def body() -> Iterator[bytes]:
        for _ in range(megabytes):
            yield chunk

    rss_before = _rss_kib(proc.pid)
    started = time.monotonic()
    with httpx.Client(timeout=60) as client:
        status = client.post(f"http://127.0.0.1:{env['SERVER_PORT']}/api/employes", content=body(),
                             headers={"content-type": "application/json", "content-length": str(size)}).status_code
    elapsed = time.monotonic() - started
    rss_after = _rss_kib(proc.pid)
    _stop(proc)
    print(f"{megabytes} MB POST: {status} in {elapsed * 1000:.0f} ms; RSS {rss_before / 1024:.1f} MiB before, "
          f"{rss_after / 1024:.1f} MiB after")


def bench_image() -> None:
    if not shutil.which("docker") or subprocess.run(["docker", "version"], capture_output=True).returncode != 0:
        print("image size: no Docker engine available")
        return
    listing = subprocess.run(["docker", "images", "--format", "{{json .}}", "localhost/rhdemo-lab/rhdemo-app"],
                             capture_output=True, text=True).stdout.splitlines()
    if not listing:
        print("image size: no localhost/rhdemo-lab/rhdemo-app image built yet (.ci/lib/build-images.sh app)")
        return
    base = os.environ.get("RHDEMO_STUB_BASE_IMAGE", "localhost/rhdemo-lab/python:3.13-trixie")
    probe = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", base], capture_output=True, text=True)
    base_size = int(probe.stdout) if probe.returncode == 0 else None
    shown = 4  # the newest ones; `docker images` lists newest first
    if len(listing) > shown:
        print(f"image size: {len(listing)} rhdemo-app images, the {shown} newest:")
    for line in listing[:shown]:
        image = json.loads(line)
        ref = f"{image['Repository']}:{image['Tag']}"
        size = int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", ref],
                                  capture_output=True, text=True).stdout)
        growth = f", {(size - base_size) / 1e6:.1f} MB above {base}" if base_size else ""
        print(f"image {ref}: {size / 1e6:.1f} MB{growth}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="startups to time (default 5)")
    args = parser.parse_args()
    server = start_server()
    try:
        user = "rhdemo_bench"
        name = server.create_database(owner=user, password=PASSWORD)
        jdbc_url = server.jdbc_url(name)
        bench_startup(jdbc_url, user, args.runs)
        bench_rss(jdbc_url, user)
        bench_big_body(jdbc_url, user)
    finally:
        server.stop()
        shutil.rmtree(server.datadir.parent, ignore_errors=True)
    bench_image()


if __name__ == "__main__":
    main()
