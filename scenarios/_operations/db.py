"""The databases: SQL as the superuser through a database pod, password logins (once, or waited for),
Secret rotation, cutting a role's connections."""

from __future__ import annotations

import time

from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.model import OUTPUT, SQL
from lab.scenario.ops import ClusterOps, operation
from lab.timeouts import RESERVE, Budget
from scenarios._operations.values import Password

POD = {"rhdemo": "postgresql-rhdemo-0", "keycloak": "postgresql-keycloak-0"}
LOGIN_POLL_INTERVAL = 5.0


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


def wait_for_login(database: str, user: str, password: Password, *, name: str | None = None) -> Action:
    """Wait (within the step's budget) until `password` logs in as `user` over TCP: the moment a
    rotation reached the server (e.g. the password-sync sidecar applying a Secret changed by
    `kubectl apply`). Success with the time it took; timeout with the server's last refusal."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        source = f"psql -h postgresql-{database} -U {user} (TCP through the Service, scram-sha-256)"
        reason = ""
        while not budget.expired(keep=RESERVE.poll):
            ok, reason = ops.db.can_login(database, user, password.value)
            if ok:
                return ActionResult.success(f"{user} logs in with {password.placeholder} after {budget.elapsed():.0f}s",
                                            Evidence(OUTPUT, source, f"SELECT 1 -> 1 (after {budget.elapsed():.0f}s)"))
            time.sleep(LOGIN_POLL_INTERVAL)
        return ActionResult.timeout(f"{user} still cannot log in with {password.placeholder}",
                                    Evidence(OUTPUT, source, reason or "(no answer)"))

    return operation(name or f"wait until {user} logs in with {password.placeholder}", run, (
        f"until kubectl -n {{namespace}} exec postgresql-{database}-0 -c postgresql -- "
        f"psql -h postgresql-{database} -U {user} -d {database} -c 'SELECT 1'; do sleep {LOGIN_POLL_INTERVAL:g}; done"
        f"   # password: {password.placeholder}",
    ))


def terminate_backends(database: str, user: str, *, name: str | None = None) -> Action:
    """Cut every connection `user` holds to `database` (pg_terminate_backend), as a database restart or
    a network blip would: the app's pool must log in again, with the password in its environment."""
    query = (f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             f"WHERE usename = '{user}' AND datname = '{database}' AND pid <> pg_backend_pid()")

    def run(ops: ClusterOps) -> ActionResult:
        evidence = sql_evidence(ops, query, database)
        count = evidence.text.splitlines()[-1].strip()
        return ActionResult.success(f"{count} connection(s) of {user} terminated", evidence)

    return operation(name or f"terminate the connections of {user}", run, (
        f"kubectl -n {{namespace}} exec -i {POD[database]} -c postgresql -- psql -U {database} -d {database} "
        f"-tAc \"{query}\"",))
