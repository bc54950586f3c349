"""passwordSync.mode=alternating: wait until a rotation is complete, and show it — which login role the
app uses, which roles still log in, which sessions are open, and that the database pod never restarted."""

from __future__ import annotations

import time

from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.model import OUTPUT
from lab.scenario.ops import ClusterOps, operation
from lab.timeouts import RESERVE, Budget
from scenarios._operations.db import POD, sql_evidence
from scenarios._operations.values import Password

POLL_INTERVAL = 3.0


def logins(database: str) -> tuple[str, str, str]:
    """The owner (the first login) and the two login roles that take turns."""
    return database, f"{database}_blue", f"{database}_green"


def _names(database: str) -> str:
    """The three roles as an SQL list."""
    return ", ".join(f"'{name}'" for name in logins(database))


def _roles_query(database: str) -> str:
    return ("SELECT rolname, CASE WHEN rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END, "
            "CASE WHEN rolpassword IS NULL THEN 'no password' ELSE 'password' END, "
            "(SELECT count(*) FROM pg_stat_activity s WHERE s.usename = a.rolname) || ' session(s)' "
            f"FROM pg_authid a WHERE rolname IN ({_names(database)}) ORDER BY rolname")


def _login_roles(ops: ClusterOps, database: str) -> list[str]:
    return ops.db.sql(database, f"SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname IN ({_names(database)}) ORDER BY 1")


def _database_pod(ops: ClusterOps, database: str) -> tuple[str, int]:
    pods = [p for p in ops.workloads.pods(f"postgresql-{database}") if p.name == POD[database]]
    return (pods[0].uid, pods[0].restarts) if pods else ("", 0)


def wait_for_switch(database: str, consumer: str, password: Password, *, name: str | None = None) -> Action:
    """Wait until the rotation to `password` is complete: exactly one login role still logs in, it logs in
    with `password`, and `consumer` (the Deployment using the database) is healthy on it — so no pod uses a
    previous login any more (password-sync retires a login only then). A database pod replaced or restarted
    meanwhile fails the action: the rotation must not cost the database a restart."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        pod_before = _database_pod(ops, database)
        state = "(not looked at yet)"
        while not budget.expired(keep=RESERVE.poll):
            still = _login_roles(ops, database)
            if len(still) == 1:
                ok, reason = ops.db.can_login(database, still[0], password.value)
                healthy, health = ops.workloads.wait_healthy(consumer, min(30.0, budget.remaining(keep=RESERVE.poll)))
                if ok and healthy:
                    pod_after = _database_pod(ops, database)
                    evidence = [sql_evidence(ops, _roles_query(database), database),
                                Evidence(OUTPUT, f"pod/{POD[database]}",
                                         f"uid {pod_after[0]}, {pod_after[1]} restart(s) "
                                         f"(before the rotation: uid {pod_before[0]}, {pod_before[1]} restart(s))")]
                    if pod_after != pod_before:
                        return ActionResult.failure(f"the database pod {POD[database]} was replaced or restarted",
                                                    *evidence)
                    return ActionResult.success(
                        f"{consumer} uses {still[0]} with {password.placeholder}, the only login left, "
                        f"after {budget.elapsed():.0f}s; {POD[database]} not restarted", *evidence)
                state = f"{still[0]}: {reason or health}"
            else:
                state = f"still logging in: {', '.join(still) or 'none'}"
            time.sleep(POLL_INTERVAL)
        return ActionResult.timeout(f"the rotation to {password.placeholder} did not complete ({state})",
                                    sql_evidence(ops, _roles_query(database), database),
                                    *ops.workloads.logs(f"postgresql-{database}", "password-sync", tail=20),
                                    *ops.workloads.logs(f"postgresql-{database}", "password-rotation", tail=20))

    return operation(name or f"wait until {consumer} uses {password.placeholder} on its own login", run, (
        f"kubectl -n {{namespace}} logs {POD[database]} -c password-sync -f",
        f"kubectl -n {{namespace}} get deployment {consumer} "
        "-o jsonpath='{.spec.template.metadata.annotations.rhdemo\\.io/db-login}'",
        f"kubectl -n {{namespace}} exec -i {POD[database]} -c postgresql -- psql -U {database} -d {database} "
        f"-c \"{_roles_query(database)}\"",
    ))


def wait_for_prepared(database: str, consumer: str, password: Password, *, name: str | None = None) -> Action:
    """Wait until one of the alternate login roles logs in with `password` — the part of a rotation that
    does not wait for the consumer's new pods (Keycloak takes minutes to start on 2 cores); password-rotation's
    log, in the evidence, shows the consumer's Deployment being switched to it."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        while not budget.expired(keep=RESERVE.poll):
            for login in logins(database)[1:]:
                ok, _ = ops.db.can_login(database, login, password.value)
                if ok:
                    return ActionResult.success(
                        f"{login} logs in with {password.placeholder} after {budget.elapsed():.0f}s "
                        f"(the login {consumer} is switched to)", sql_evidence(ops, _roles_query(database), database),
                        *ops.workloads.logs(f"postgresql-{database}", "password-rotation", tail=10))
            time.sleep(POLL_INTERVAL)
        return ActionResult.timeout(f"no alternate login of {database} logs in with {password.placeholder}",
                                    sql_evidence(ops, _roles_query(database), database),
                                    *ops.workloads.logs(f"postgresql-{database}", "password-sync", tail=20))

    return operation(name or f"wait until an alternate login of {database} has {password.placeholder}", run, (
        f"kubectl -n {{namespace}} logs {POD[database]} -c password-sync -f",))


def all_refused(database: str, credentials: list[tuple[str, Password]], *, name: str | None = None) -> Action:
    """Each (login role, password) pair is refused over TCP, as the app would log in: the rotation's previous
    credentials no longer work. A failure names the first that still logs in."""

    def run(ops: ClusterOps) -> ActionResult:
        lines = []
        for user, password in credentials:
            ok, reason = ops.db.can_login(database, user, password.value)
            if ok:
                return ActionResult.failure(f"{user} still logs in with {password.placeholder}",
                                            Evidence(OUTPUT, f"psql -h postgresql-{database} -U {user}", "SELECT 1 -> 1"))
            lines.append(f"{user} with {password.placeholder}: {reason}")
        return ActionResult.success(f"{len(credentials)} previous credential(s) refused",
                                    Evidence(OUTPUT, f"psql -h postgresql-{database} (TCP, scram-sha-256)", "\n".join(lines)))

    return operation(name or f"log in to {database} with each previous credential", run, tuple(
        f"kubectl -n {{namespace}} exec -it postgresql-{database}-0 -c postgresql -- "
        f"psql -h postgresql-{database} -U {user} -d {database} -c 'SELECT 1'   # password: {password.placeholder}"
        for user, password in credentials))


def no_password_in_sight(*passwords: Password, name: str | None = None) -> Action:
    """None of `passwords` appears in what a reader of the namespace without access to Secrets sees: the
    ConfigMaps, the pods', Deployments', StatefulSets' and Jobs' manifests (annotations, env), every container's
    log. A failure names where (never the value)."""

    def run(ops: ClusterOps) -> ActionResult:
        texts = ops.workloads.readable_texts()
        found = [f"{password.placeholder} in {source}" for source, text in texts.items()
                 for password in passwords if password.value in text]
        looked = Evidence(OUTPUT, "kubectl get configmaps,pods,deployments,statefulsets,jobs -o json; kubectl logs",
                          f"{len(texts)} sources read, {len(passwords)} passwords looked for:\n" + "\n".join(sorted(texts)))
        if found:
            return ActionResult.failure("a password is readable: " + "; ".join(found), looked)
        return ActionResult.success(f"no password in {len(texts)} sources (manifests, ConfigMaps, logs)", looked)

    return operation(name or "look for the passwords in manifests, ConfigMaps and logs", run, (
        "kubectl -n {namespace} get configmaps,pods,deployments,statefulsets,jobs -o json | grep -F <password>",
        "for p in $(kubectl -n {namespace} get pods -o name); do kubectl -n {namespace} logs $p --all-containers; done"
        " | grep -F <password>",
    ))
