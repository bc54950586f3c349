"""The databases: SQL as the superuser through a database pod, password logins, Secret rotation."""

from __future__ import annotations

from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.model import OUTPUT, SQL
from lab.scenario.ops import ClusterOps, operation
from scenarios._operations.values import Password

POD = {"rhdemo": "postgresql-rhdemo-0", "keycloak": "postgresql-keycloak-0"}


def sql_evidence(ops: ClusterOps, query: str, database: str = "rhdemo") -> Evidence:
    rows = ops.db.sql(database, query)
    return Evidence(SQL, f"psql {database}", f"{query}\n" + ("\n".join(rows) if rows else "(0 rows)"))


def rows(ops: ClusterOps, query: str) -> list[str]:
    """`a|b` lines of a query on the rhdemo database."""
    return list(ops.db.sql("rhdemo", query))


def psql_line(query: str) -> str:
    return f'kubectl -n {{namespace}} exec -i postgresql-rhdemo-0 -c postgresql -- psql -U rhdemo -d rhdemo -c "{query}"'


def sql(database: str, query: str, *, name: str | None = None) -> Action:
    """Run a query as the superuser through the database pod's socket; the result is SQL evidence."""

    def run(ops: ClusterOps) -> ActionResult:
        evidence = sql_evidence(ops, query, database)
        return ActionResult.success(evidence.text.splitlines()[-1][:120], evidence)

    return operation(name or f"psql {database}", run, (
        f"kubectl -n {{namespace}} exec -i {POD[database]} -c postgresql -- psql -U {database} -d {database} -tAc \"{query}\"",))


def check_login(database: str, user: str, password: Password, *, name: str | None = None) -> Action:
    """Does `password` log in as `user` over TCP, as the app does? ok = yes; failure = the server's reason."""

    def run(ops: ClusterOps) -> ActionResult:
        ok, reason = ops.db.can_login(database, user, password.value)
        source = f"psql -h postgresql-{database} -U {user} (TCP through the Service, scram-sha-256)"
        if ok:
            return ActionResult.success(f"{user} logs in with {password.placeholder}",
                                        Evidence(OUTPUT, source, "SELECT 1 -> 1"))
        return ActionResult.failure(f"{user} cannot log in with {password.placeholder}", Evidence(OUTPUT, source, reason))

    return operation(name or f"log in as {user} with {password.placeholder}", run, (
        f"kubectl -n {{namespace}} exec -it postgresql-{database}-0 -c postgresql -- "
        f"psql -h postgresql-{database} -U {user} -d {database} -c 'SELECT 1'   # password: {password.placeholder}",
    ))


def rotate_line(secret: str, password: Password, key: str) -> str:
    return (f"kubectl create secret generic {secret} --from-literal={key}={password.placeholder} "
            "-n {namespace} --dry-run=client -o yaml | kubectl apply -f -")


def rotate_secret(secret: str, password: Password, *, key: str = "password") -> Action:
    """The seed's Test 3: replace the Secret's password with `kubectl apply`, outside Helm."""

    def run(ops: ClusterOps) -> ActionResult:
        output = ops.workloads.apply_secret(secret, password.value, key=key)
        return ActionResult.success(f"secret/{secret} now holds {password.placeholder}",
                                    Evidence(OUTPUT, "kubectl apply", output.strip()))

    return operation(f"kubectl apply secret/{secret} with {password.placeholder}", run,
                     (rotate_line(secret, password, key),))
