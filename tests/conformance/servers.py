"""A PostgreSQL server of its own for a case that stops and restarts it (tests/pgserver.py starts it).
pg_ctl refuses to run as root: like start_server(), run it as `postgres` then."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.pgserver import PgServer, start_server


def _run_as() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def private_server() -> PgServer:
    return start_server()


def stop(server: PgServer) -> None:
    subprocess.run([*_run_as(), str(server.bindir / "pg_ctl"), "-D", str(server.datadir), "-m", "fast", "-w",
                    "stop"], check=True, capture_output=True)


def restart(server: PgServer) -> None:
    """The same data directory and port again (the options start_server() used)."""
    opts = (f"-p {server.port} -k {server.sockdir} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            "-c fsync=off")
    subprocess.run([*_run_as(), str(server.bindir / "pg_ctl"), "-D", str(server.datadir), "-o", opts,
                    "-l", str(server.datadir.parent / "server.log"), "-w", "start"], check=True, capture_output=True)


def remove(server: PgServer) -> None:
    subprocess.run([*_run_as(), str(server.bindir / "pg_ctl"), "-D", str(server.datadir), "-m", "immediate",
                    "stop"], check=False, capture_output=True)
    shutil.rmtree(server.datadir.parent, ignore_errors=True)
