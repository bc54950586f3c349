"""A real, throwaway PostgreSQL server for tests (Debian's postgresql, started with pg_ctl).

Authentication mirrors the official postgres image: trust on the local socket,
scram-sha-256 over TCP, so password tests exercise the real server's checks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg


def _pg_bindir() -> Path:
    """The newest Debian PostgreSQL install, or pg_ctl from PATH."""
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted((p for p in root.iterdir() if (p / "bin" / "pg_ctl").exists()),
                          key=lambda p: int(p.name) if p.name.isdigit() else 0)
        if versions:
            return versions[-1] / "bin"
    pg_ctl = shutil.which("pg_ctl")
    if not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    return Path(pg_ctl).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    """A running server. `superuser` connects over the socket (trust), like `lab psql`."""

    bindir: Path
    datadir: Path
    sockdir: Path
    port: int
    superuser: str = "postgres"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def admin_dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.sockdir} port={self.port} user={self.superuser} dbname={dbname}"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.admin_dsn(dbname), autocommit=True)

    def create_database(self, owner: str, password: str, name: str | None = None) -> str:
        """A fresh database owned by a fresh login role with `password`; returns its name."""
        name = name or f"db_{uuid.uuid4().hex[:10]}"
        with self.admin() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(psycopg.sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.SQL(verb), psycopg.sql.Identifier(owner), psycopg.sql.Literal(password)))
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {} OWNER {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.Identifier(owner)))
        return name

    def tcp_dsn(self, user: str, password: str, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(host=self.host, port=self.port, user=user,
                                              password=password, dbname=dbname)

    def jdbc_url(self, dbname: str) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{dbname}"

    def stop(self) -> None:
        subprocess.run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
                       check=False, capture_output=True)


DEFAULT_AUTH = ("--auth-local=trust", "--auth-host=scram-sha-256")


def start_server(base: Path | None = None, settings: dict[str, str] | None = None, *,
                 superuser: str = "postgres", initdb_args: tuple[str, ...] = DEFAULT_AUTH,
                 hba_lines: tuple[str, ...] = (), port: int | None = None,
                 listen_addresses: str = "127.0.0.1") -> PgServer:
    """initdb + start on a free port; the caller stops it. Refuses to run as root (postgres does too),
    so as root the server runs as the `postgres` system user. `settings`: extra server settings
    (postgresql.conf names), e.g. the logging a test wants to provoke. `superuser`, `initdb_args`
    (instead of the authentication defaults) and `hba_lines` (appended to pg_hba.conf) reproduce what
    an image's entrypoint does at initdb; `port`: one chosen beforehand (free_port());
    `listen_addresses` "" gives a socket-only server, like the entrypoint's while init scripts run."""
    bindir = _pg_bindir()
    base = Path(base or tempfile.mkdtemp(prefix="rhdemo-lab-pg-"))
    datadir, sockdir = base / "data", base / "sock"
    sockdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sockdir, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(datadir), "-U", superuser,
                    *initdb_args, "-E", "UTF8", "--locale=C.UTF-8"],
                   check=True, capture_output=True)
    if hba_lines:
        with open(datadir / "pg_hba.conf", "a") as hba:
            hba.writelines(f"{line}\n" for line in hba_lines)
    opts = f"-p {port} -k {sockdir} -c listen_addresses='{listen_addresses}' -c max_connections=200 -c fsync=off"
    if settings:  # appended to postgresql.conf: values may hold spaces and commas
        with open(datadir / "postgresql.conf", "a") as conf:
            conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())
    subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts,
                    "-l", str(base / "server.log"), "-w", "start"], check=True, capture_output=True)
    return PgServer(bindir=bindir, datadir=datadir, sockdir=sockdir, port=port, superuser=superuser)
