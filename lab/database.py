"""Database state: row count + checksum of `employes`, roles, "can this password log in".

Two transports: `kubectl exec` into the database pod, connecting over its local socket (trusted
there, so no password is ever needed or typed), and psycopg through a port-forward when a password
login itself is the question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from lab.errors import LabError
from lab.kube import Kubectl
from lab.runner import CommandError, Runner, mask_text
from lab.timeouts import DEFAULTS

# The same SQL runs through psql (exec) and psycopg (tests, port-forward). The checksum covers only
# the first migration's columns: adding `telephone` (V2) must not look like changed data.
EMPLOYES_STATS_SQL = (
    "SELECT count(*), coalesce(md5(string_agg(concat_ws('|', e.id, e.prenom, e.nom, e.mail, e.adresse), '|'"
    " ORDER BY e.id)), md5('')) FROM employes e"
)
ROLES_SQL = "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname"
TABLE_EXISTS_SQL = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'employes'"
# Inside the official postgres image (and the local stand-in), POSTGRES_USER/POSTGRES_DB are set.
PSQL_IN_POD = 'exec psql -X -v ON_ERROR_STOP=1 -U "${POSTGRES_USER:-postgres}" -d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"'


@dataclass(frozen=True)
class TableStats:
    rows: int
    checksum: str


def parse_stats(line: str) -> TableStats:
    count, _, checksum = line.strip().partition("|")
    return TableStats(int(count), checksum)


def employes_stats(conn: psycopg.Connection[Any]) -> TableStats | None:
    if conn.execute(TABLE_EXISTS_SQL).fetchone()[0] == 0:  # type: ignore[index]
        return None
    count, checksum = conn.execute(EMPLOYES_STATS_SQL).fetchone()  # type: ignore[misc]
    return TableStats(int(count), str(checksum))


def roles(conn: psycopg.Connection[Any]) -> list[str]:
    return [row[0] for row in conn.execute(ROLES_SQL).fetchall()]


def can_login(host: str, port: int, user: str, password: str, dbname: str,
              timeout: int = 5) -> tuple[bool, str]:
    """(True, "") or (False, the server's reason, e.g. 'password authentication failed for user ...')."""
    try:
        with psycopg.connect(host=host, port=port, user=user, password=password, dbname=dbname,
                             connect_timeout=timeout) as conn:
            conn.execute("SELECT 1")
        return True, ""
    except psycopg.OperationalError as exc:
        message = str(exc).strip().splitlines()
        reason = next((line for line in message if "FATAL" in line), message[-1] if message else "unknown error")
        return False, reason.replace(password, "*****") if password else reason


class DatabasePod:
    """A database pod, reached with `kubectl exec` over its local socket (trust, as in the official image).
    A password check goes through the database's Service instead (`can_login`): connections through a
    port-forward arrive from 127.0.0.1, which initdb's default pg_hba trusts (the chart's initdbArgs asks a
    password there, but not on a PGDATA initialised before it)."""

    def __init__(self, runner: Runner, context: str, namespace: str, pod: str) -> None:
        self.runner = runner
        self.context = context
        self.namespace = namespace
        self.pod = pod
        self.kubectl = Kubectl(runner, context, namespace)

    def psql_argv(self, interactive: bool) -> list[str]:
        return self.kubectl.exec_argv(self.pod, ["sh", "-c", PSQL_IN_POD], interactive=interactive)

    def query(self, sql: str) -> list[str]:
        """Rows as `a|b` lines (psql -tA), SQL through stdin."""
        try:
            result = self.runner.run(self.kubectl.exec_argv(self.pod, ["sh", "-c", PSQL_IN_POD + " -tA"]),
                                     input=sql + ";\n", timeout=DEFAULTS.query)
        except CommandError as exc:
            raise LabError(f"query in {self.pod} failed: {exc.stderr_tail}") from None
        return [line for line in result.stdout.splitlines() if line.strip()]

    def employes_stats(self) -> TableStats | None:
        if int(self.query(TABLE_EXISTS_SQL)[0]) == 0:
            return None
        return parse_stats(self.query(EMPLOYES_STATS_SQL)[0])

    def roles(self) -> list[str]:
        return self.query(ROLES_SQL)

    def can_login(self, service: str, user: str, database: str, password: str,
                  container: str = "postgresql") -> tuple[bool, str]:
        """Does this password log in over TCP through `service`, exactly the app's path
        (`host all all all scram-sha-256`)? (True, "") or (False, the server's reason, masked).
        psql runs in this pod and reads the password from stdin (never argv)."""
        self.runner.register_secret(password)
        script = ('IFS= read -r PGPASSWORD; export PGPASSWORD; '
                  f'exec psql -X -h {service} -U "$1" -d "$2" -tA -c "SELECT 1"')
        result = self.runner.run(self.kubectl.exec_argv(self.pod, ["sh", "-c", script, "sh", user, database],
                                                        container=container),
                                 input=password + "\n", check=False, timeout=DEFAULTS.query)
        if result.returncode == 0 and result.stdout.strip() == "1":
            return True, ""
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = next((line for line in lines if "FATAL" in line), lines[0] if lines else "psql failed")
        return False, mask_text(reason.strip(), self.runner.secrets)
