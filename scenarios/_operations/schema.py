"""The migration scenarios' operations (missing-table, redeploy-idempotent, add-migration, rollback,
flyway-baseline, concurrent-migrations): each does the work AND compares what it saw (pods
before/after, history rows, per-replica log lines); each comparison is a `verdict` evidence item
that `holds(check, description)` judges."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lab.kube import PodState
from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.context import ScenarioContext
from lab.scenario.model import LOG, SQL, STATUS
from lab.scenario.ops import ClusterOps, cluster_ops, operation
from lab.timeouts import RESERVE, Budget
from scenarios._operations.checks import VERDICT, verdict
from scenarios._operations.db import psql_line, rows, sql_evidence
from scenarios._operations.helm import helm_evidence, helm_timeout
from scenarios._operations.values import helm_line, resolve
from scenarios._operations.wait import APP, settle

# The app's model releases (app-stub): 1.0 bundles V1, 1.1 adds V2 (telephone).
MISSING_TABLE = "Schema-validation: missing table [employes]"
NON_EMPTY_SCHEMA = ('Found non-empty schema(s) "public" but no schema history table. Use baseline() or set '
                    "baselineOnMigrate to true to initialize the schema history table.")
UP_TO_DATE = 'Schema "public" is up to date. No migration necessary.'
MIGRATING = 'Migrating schema "public" to version'

HISTORY_SQL = ("SELECT installed_rank, version, description, type, script, installed_by, success "
               "FROM flyway_schema_history ORDER BY installed_rank")
HISTORY_PER_VERSION_SQL = ("SELECT version, count(*) FROM flyway_schema_history "
                           "WHERE version IS NOT NULL GROUP BY version ORDER BY version")
COLUMNS_SQL = ("SELECT column_name, data_type FROM information_schema.columns "
               "WHERE table_schema = 'public' AND table_name = 'employes' ORDER BY ordinal_position")
INDEXES_SQL = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'employes' ORDER BY indexname"
TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
HISTORY_TABLES = ("flyway_schema_history", "schema_migrations")
# The indexes V1 creates besides the primary key (the seed's V1__initial_schema.sql).
V1_INDEXES = ("idx_employes_adresse", "idx_employes_mail", "idx_employes_nom", "idx_employes_nom_prenom",
              "idx_employes_prenom")
IMAGE_OF_APP = "kubectl -n {namespace} get deployment/rhdemo-app -o jsonpath='{.spec.template.spec.containers[0].image}'"


# ---- looking at the schema and the app's pods ----------------------------------------------------

def history_versions(ops: ClusterOps) -> list[str]:
    """`version|count` lines of flyway_schema_history ([] when there is no history table)."""
    if not any(line.strip() == "flyway_schema_history" for line in rows(ops, TABLES_SQL)):
        return []
    return rows(ops, HISTORY_PER_VERSION_SQL)


def pods_text(pods: Sequence[PodState]) -> str:
    return "\n".join(f"{p.name} ready={p.ready} restarts={p.restarts}" for p in pods) or "(no pods)"


def app_logs_per_pod(ops: ClusterOps) -> dict[str, str]:
    """The current log of each app pod's main container (from its start: the Flyway lines are first)."""
    return {p.name: ops.workloads.pod_logs(p.name, APP, tail=400) for p in ops.workloads.pods(APP)}


def migration_lines(log: str) -> list[str]:
    keep = (MIGRATING, UP_TO_DATE, "Successfully applied", "Successfully baselined", "Current version of schema")
    found = []
    for line in log.splitlines():
        if any(k in line for k in keep):
            stamp = line.split(" ", 1)[0] if line[:4].isdigit() else ""  # Spring's ISO timestamp
            found.append(f"{stamp} {line.split(' : ', 1)[-1].strip()}".strip())
    return found


def flyway_evidence(logs: Mapping[str, str]) -> list[Evidence]:
    return [Evidence(LOG, f"pod/{pod}/rhdemo-app (Flyway)", "\n".join(migration_lines(text))) for pod, text in logs.items()]


def history_change(before: Sequence[str], after: Sequence[str]) -> Evidence:
    return Evidence(SQL, "psql rhdemo", f"{HISTORY_SQL}\nbefore:\n" + "\n".join(before) + "\nafter:\n" + "\n".join(after))


# ---- changing the schema -------------------------------------------------------------------------

def reset_schema() -> Action:
    """Back to an empty database between two fixes: drop what the previous fix created (its table and
    its migration history), so the next fix starts exactly where Problem 3 starts."""
    drop = "DROP TABLE IF EXISTS employes, flyway_schema_history, schema_migrations CASCADE"

    def run(ops: ClusterOps) -> ActionResult:
        rows(ops, drop)
        left = rows(ops, TABLES_SQL)
        return ActionResult.success("public schema empty again" if not left else f"tables left: {', '.join(left)}",
                                    Evidence(SQL, "psql rhdemo", f"{drop};\n{TABLES_SQL}\n" + ("\n".join(left) or "(0 rows)")),
                                    verdict("empty schema", not left, ", ".join(left) or "no table in public"))

    return operation("drop employes and the migration history tables", run, (psql_line(drop),))


def with_sql(action: Action, *queries: str, name: str | None = None) -> Action:
    """`action`, then (if it completed and the rollout settled) these queries as SQL evidence."""

    def run(ctx: ScenarioContext) -> ActionResult:
        result = action(ctx)
        if not result.ok:
            return result
        ops = cluster_ops(ctx)
        settle(ops)
        return ActionResult(True, result.summary, (*result.evidence, *[sql_evidence(ops, q) for q in queries]))

    def replay(ctx: ScenarioContext) -> list[str]:
        return [*action.commands(ctx), *[psql_line(q).replace("{namespace}", ctx.namespace) for q in queries]]

    return Action(name or action.name, run, replay)


# ---- helm, comparing before and after -------------------------------------------------------------------------

def redeploy_unchanged(values: Mapping[str, Any], *, app_release: str = "1.0", name: str | None = None) -> Action:
    """Test 2: `helm upgrade` with the same values; compares the app's pods, ReplicaSets and migration
    history before and after. Whether the app answered all along is the engine's availability probe
    (the step is probed: it touches the release), judged by `Available()`."""

    def run(ops: ClusterOps) -> ActionResult:
        pods_before, sets_before = ops.workloads.pods(APP), ops.workloads.replica_sets(APP)
        history_before = history_versions(ops)
        history_rows_before = rows(ops, HISTORY_SQL) if history_before else []
        result = ops.helm.upgrade(resolve(values), app_release=app_release, wait=True, timeout=helm_timeout(ops, None))
        ops.workloads.wait_pods_ready(APP, 120)
        pods_after, sets_after = ops.workloads.pods(APP), ops.workloads.replica_sets(APP)
        history_rows_after = rows(ops, HISTORY_SQL) if history_before else []
        same_pods = [(p.uid, p.restarts) for p in pods_before] == [(p.uid, p.restarts) for p in pods_after]
        evidence = [
            helm_evidence(result),
            Evidence(STATUS, "app pods before / after", f"before:\n{pods_text(pods_before)}\nafter:\n{pods_text(pods_after)}"),
            Evidence(STATUS, "replicasets of rhdemo-app", "before: " + ", ".join(sets_before) + "\nafter:  " + ", ".join(sets_after)),
            history_change(history_rows_before, history_rows_after),
            verdict("same pods", same_pods and all(p.ready for p in pods_after),
                    f"{len(pods_after)} pod(s): {', '.join(p.name for p in pods_after)}, "
                    f"restarts {sum(p.restarts for p in pods_before)} -> {sum(p.restarts for p in pods_after)}"
                    + ("" if same_pods else f" (before: {', '.join(p.name for p in pods_before)})")),
            verdict("same replicasets", sets_before == sets_after, ", ".join(sets_after)),
            verdict("no new migration", history_rows_before == history_rows_after and bool(history_rows_after),
                    f"{len(history_rows_after)} history row(s), unchanged" if history_rows_before == history_rows_after
                    else f"{len(history_rows_before)} -> {len(history_rows_after)} history rows"),
        ]
        if not result.ok:
            return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s", *evidence)
        return ActionResult.success(f"upgraded in {result.seconds:.0f}s", *evidence)

    return operation(name or "helm upgrade with nothing changed", run, (
        "while true; do curl -fsS localhost:8080/api/employes >/dev/null || echo FAIL; "
        "curl -fsS localhost:9000/actuator/health/db >/dev/null || echo FAIL; sleep 0.2; done &",
        helm_line(values, app_release=app_release),
        "kubectl -n {namespace} wait --for=condition=ready pod -l app=rhdemo-app --timeout=300s",
        "kubectl -n {namespace} get pods,replicasets -l app=rhdemo-app",
    ))


def upgrade_with_job(values: Mapping[str, Any], *, selector: Mapping[str, str], container: str, job: str,
                     looks: Sequence[str] = (), app_release: str = "1.0", name: str | None = None) -> Action:
    """helm upgrade --wait while following the logs of the migration hook Job (deleted as soon as it
    succeeds: its logs must be read while it runs), then SQL `looks`."""

    def run(ops: ClusterOps) -> ActionResult:
        with ops.workloads.follow_logs(selector, container) as followed:
            result = ops.helm.upgrade(resolve(values), app_release=app_release, wait=True,
                                      timeout=helm_timeout(ops, None))
        job_logs = [Evidence(LOG, f"job {job} pod/{pod}/{container}", text) for pod, text in followed.items() if text.strip()]
        job_events = [e for e in ops.workloads.events(limit=40) if e.source.startswith(f"Job/{job}")]
        evidence = [helm_evidence(result), *job_logs, *job_events]
        if not result.ok:
            return ActionResult(False, f"helm upgrade failed after {result.seconds:.0f}s", tuple(evidence), result.timed_out)
        settle(ops)
        evidence += [sql_evidence(ops, query) for query in looks]
        return ActionResult.success(f"upgraded in {result.seconds:.0f}s", *evidence)

    return operation(name or "helm upgrade (the migration Job runs as a pre-upgrade hook)", run, (
        helm_line(values, app_release=app_release),
        f"kubectl -n {{namespace}} logs -f job/{job}<revision>",
        *[psql_line(query) for query in looks],
    ))


# ---- add-migration -------------------------------------------------------------------------------

def upgrade_applying_v2(values: Mapping[str, Any], *, name: str) -> Action:
    """helm upgrade to 1.1, then: the history, the columns, and the new pod's Flyway lines."""

    def run(ops: ClusterOps) -> ActionResult:
        before = rows(ops, HISTORY_SQL)
        result = ops.helm.upgrade(resolve(values), app_release="1.1", wait=True, timeout=helm_timeout(ops, None))
        if not result.ok:
            return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s", helm_evidence(result),
                                        *ops.workloads.logs(APP))
        settle(ops)
        after = rows(ops, HISTORY_SQL)
        columns = rows(ops, COLUMNS_SQL)
        new_rows = [line for line in after if line not in before]
        v2_rows = [line for line in after if line.split("|")[1:2] == ["2"]]
        return ActionResult.success(
            f"upgraded in {result.seconds:.0f}s", helm_evidence(result), *flyway_evidence(app_logs_per_pod(ops)),
            history_change(before, after),
            Evidence(SQL, "psql rhdemo", f"{COLUMNS_SQL}\n" + "\n".join(columns)),
            verdict("V2 once", len(v2_rows) == 1 and len(new_rows) == 1,
                    f"new history row(s): {'; '.join(new_rows) or 'none'}"),
            verdict("telephone", any(line.startswith("telephone|") for line in columns),
                    ", ".join(line.split("|")[0] for line in columns)))

    return operation(name, run, (helm_line(values, app_release="1.1"), psql_line(HISTORY_SQL), psql_line(COLUMNS_SQL)))


def redeploy_restarting_app(values: Mapping[str, Any], *, name: str) -> Action:
    """The same upgrade again, and new app pods (rollout restart) so Flyway really runs once more."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        before = rows(ops, HISTORY_SQL)
        result = ops.helm.upgrade(resolve(values), app_release="1.1", wait=True, timeout=helm_timeout(ops, None))
        if not result.ok:
            return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s", helm_evidence(result))
        ops.workloads.restart(APP, budget.remaining(keep=RESERVE.rollout, floor=30))
        settle(ops)
        after = rows(ops, HISTORY_SQL)
        return ActionResult.success(
            f"upgraded in {result.seconds:.0f}s, app pods restarted", helm_evidence(result),
            *flyway_evidence(app_logs_per_pod(ops)), history_change(before, after),
            verdict("history unchanged", before == after and len(after) == 2,
                    f"{len(after)} rows, identical (installed_on included)" if before == after
                    else f"{len(before)} -> {len(after)} rows"))

    return operation(name, run, (
        helm_line(values, app_release="1.1"),
        "kubectl -n {namespace} rollout restart deployment/rhdemo-app",
        "kubectl -n {namespace} rollout status deployment/rhdemo-app",
        psql_line(HISTORY_SQL)))


# ---- concurrent-migrations -----------------------------------------------------------------------

def who_migrated(replicas: int) -> Action:
    """History per version and each replica's Flyway lines: each migration applied by exactly one replica."""

    def look(ops: ClusterOps) -> ActionResult:
        pods = ops.workloads.pods(APP)
        per_version = rows(ops, HISTORY_PER_VERSION_SQL)
        logs = {p.name: migration_lines(ops.workloads.pod_logs(p.name, APP, tail=400)) for p in pods}
        applied = {pod: [line for line in lines if MIGRATING in line] for pod, lines in logs.items()}
        up_to_date = [pod for pod, lines in logs.items() if any(UP_TO_DATE in line for line in lines)]
        total_applied = sum(len(lines) for lines in applied.values())
        migrators = [f"{pod}: {len(lines)}" for pod, lines in applied.items() if lines]
        found = [
            sql_evidence(ops, HISTORY_SQL), sql_evidence(ops, HISTORY_PER_VERSION_SQL),
            *[Evidence(LOG, f"pod/{pod}/rhdemo-app (Flyway)", "\n".join(lines)) for pod, lines in logs.items()],
            verdict("each version once", per_version == ["1|1", "2|1"], "version|rows: " + ", ".join(per_version)),
            verdict("one migrator per migration", total_applied == 2 and len(up_to_date) + len(migrators) >= 2,
                    f"{total_applied} 'Migrating schema' line(s) across {len(pods)} replicas "
                    f"(applied by {', '.join(migrators) or 'nobody'}; found up to date: {len(up_to_date)})"),
            verdict("all replicas ready", len(pods) == replicas and all(p.ready for p in pods),
                    f"{sum(p.ready for p in pods)}/{len(pods)} ready (restarts {sum(p.restarts for p in pods)})"),
        ]
        return _observed(found)

    return operation("history and the replicas' Flyway lines", look, (
        psql_line(HISTORY_PER_VERSION_SQL),
        "kubectl -n {namespace} logs -l app=rhdemo-app --prefix | grep -E 'Migrating|up to date'"))


def _observed(found: Sequence[Evidence]) -> ActionResult:
    """Looking always completes; whether what it saw is right is for `holds(...)` to judge."""
    summary = "; ".join(e.fields["observed"] for e in found if e.kind == VERDICT)[:300]
    return ActionResult.success(summary or f"{len(found)} item(s) observed", *found)


# ---- missing-table -------------------------------------------------------------------------------

def hibernate_caveat() -> Action:
    """What `ddl-auto: update` leaves behind after the model dropped `telephone` (1.1 -> 1.0)."""

    def look(ops: ClusterOps) -> ActionResult:
        columns = rows(ops, COLUMNS_SQL)
        tables = rows(ops, TABLES_SQL)
        indexes = rows(ops, INDEXES_SQL)
        orphan = any(line.startswith("telephone|") for line in columns)
        no_history = not any(table in tables for table in HISTORY_TABLES)
        missing_indexes = [index for index in V1_INDEXES if index not in indexes]
        return _observed([
            sql_evidence(ops, COLUMNS_SQL), sql_evidence(ops, TABLES_SQL), sql_evidence(ops, INDEXES_SQL),
            verdict("orphan column", orphan,
                    "telephone is still in employes, though app 1.0 no longer maps it" if orphan
                    else "telephone is gone"),
            verdict("no history", no_history and bool(missing_indexes),
                    f"no migration history table ({', '.join(tables)}); V1's indexes never created: "
                    f"{', '.join(missing_indexes) or 'none missing'}")])

    return operation("columns, tables and indexes of the schema", look, (psql_line(COLUMNS_SQL), psql_line(INDEXES_SQL)))


# ---- flyway-baseline -----------------------------------------------------------------------------

def baseline_trap() -> Action:
    """Only a baseline row at version 1: V1 never ran, its indexes do not exist."""

    def look(ops: ClusterOps) -> ActionResult:
        history = rows(ops, HISTORY_SQL)
        indexes = rows(ops, INDEXES_SQL)
        logs = {pod: migration_lines(ops.workloads.pod_logs(pod, APP, tail=400)) for pod in ops.workloads.pod_names(APP)}
        baseline_only = len(history) == 1 and "<< Flyway Baseline >>" in history[0] and history[0].split("|")[1] == "1"
        missing = [index for index in V1_INDEXES if index not in indexes]
        return _observed([
            sql_evidence(ops, HISTORY_SQL), sql_evidence(ops, INDEXES_SQL), sql_evidence(ops, TABLES_SQL),
            *[Evidence(LOG, f"pod/{pod}/rhdemo-app (Flyway)", "\n".join(lines)) for pod, lines in logs.items() if lines],
            verdict("V1 skipped", baseline_only and bool(missing),
                    f"history: {' ; '.join(history) or 'empty'}; V1 never ran: its indexes "
                    f"{', '.join(missing) or '(all present)'} do not exist")])

    return operation("history rows and indexes", look, (psql_line(HISTORY_SQL), psql_line(INDEXES_SQL)))


def rebaseline_at_zero(values: Mapping[str, Any], *, name: str) -> Action:
    """Forget the wrong baseline, then start the app with baseline-version 0: V1 runs on the existing
    table (its CREATE ... IF NOT EXISTS make it safe there)."""
    drop = "DROP TABLE flyway_schema_history"

    def run(ops: ClusterOps) -> ActionResult:
        rows(ops, drop)
        result = ops.helm.upgrade(resolve(values), wait=True, timeout=helm_timeout(ops, None))
        if not result.ok:
            return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s", helm_evidence(result),
                                        *ops.workloads.logs(APP))
        settle(ops)
        history = rows(ops, HISTORY_SQL)
        indexes = rows(ops, INDEXES_SQL)
        missing = [index for index in V1_INDEXES if index not in indexes]
        v1_ran = any(line.split("|")[1:2] == ["1"] and "V1__initial_schema.sql" in line for line in history)
        return ActionResult.success(
            f"upgraded in {result.seconds:.0f}s", Evidence(SQL, "psql rhdemo", drop), helm_evidence(result),
            sql_evidence(ops, HISTORY_SQL), sql_evidence(ops, INDEXES_SQL),
            verdict("V1 applied", v1_ran and not missing,
                    f"history: {' ; '.join(history)}; V1's indexes " + ("all present" if not missing else f"missing: {', '.join(missing)}")))

    return operation(name, run, (psql_line(drop), helm_line(values), psql_line(HISTORY_SQL), psql_line(INDEXES_SQL)))


# ---- rollback ------------------------------------------------------------------------------------

def history_text(ops: ClusterOps) -> str:
    return "\n".join(f"{h.get('revision')}  {h.get('status'):<11} {h.get('app_version', '')}  {h.get('description', '')}"
                     for h in ops.helm.history())


def atomic_upgrade_rolled_back(values: Mapping[str, Any], *, timeout: float, name: str, replay: Sequence[str]) -> Action:
    """helm upgrade --atomic (Helm 4: --rollback-on-failure) of a release whose pods never get ready."""

    def run(ops: ClusterOps) -> ActionResult:
        result = ops.helm.upgrade(resolve(values), wait=True, atomic=True, timeout=timeout)
        evidence = [helm_evidence(result), *ops.workloads.events(warnings_only=True, limit=10),
                    Evidence(STATUS, "helm history", history_text(ops))]
        if result.ok:
            return ActionResult.success("the broken release was deployed (!)", *evidence)
        return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s and rolled back", *evidence)

    return operation(name, run, tuple(replay))


def rolled_back_from(broken_tag: str) -> Action:
    """The last revision is a rollback, and the app no longer runs the broken image."""

    def look(ops: ClusterOps) -> ActionResult:
        history = ops.helm.history()
        last = history[-1] if history else {}
        image = ops.workloads.image_of(APP)
        rolled = last.get("status") == "deployed" and "Rollback" in str(last.get("description", ""))
        return _observed([Evidence(STATUS, "helm history", history_text(ops)),
                          verdict("rolled back", rolled and broken_tag not in image,
                                  f"revision {last.get('revision')} {last.get('status')}: {last.get('description')}; image {image}")])

    return operation("helm history and the app's image", look, ("helm history {release} -n {namespace}",))


def rollback_keeps_schema(*, name: str) -> Action:
    """helm rollback to the previous (1.0) revision, then: the schema, the app's Flyway lines, the API."""

    def run(ops: ClusterOps) -> ActionResult:
        before = rows(ops, HISTORY_SQL)
        result = ops.helm.rollback(timeout=helm_timeout(ops, None))
        if not result.ok:
            return ActionResult.failure(f"helm rollback failed after {result.seconds:.0f}s", helm_evidence(result),
                                        *ops.workloads.logs(APP))
        settle(ops)
        after = rows(ops, HISTORY_SQL)
        columns = rows(ops, COLUMNS_SQL)
        image = ops.workloads.image_of(APP)
        answer = ops.app.request("GET", "/api/employes?size=5")
        v2 = [line for line in after if line.split("|")[1:2] == ["2"]]
        return ActionResult.success(
            f"rolled back in {result.seconds:.0f}s", helm_evidence(result),
            Evidence(STATUS, "helm history", history_text(ops)),
            *flyway_evidence(app_logs_per_pod(ops)), history_change(before, after),
            Evidence(SQL, "psql rhdemo", f"{COLUMNS_SQL}\n" + "\n".join(columns)),
            Evidence("output", "GET :8080/api/employes?size=5", f"HTTP {answer.status}\n{answer.body[:600]}"),
            verdict("schema stays at V2", before == after and len(v2) == 1 and any(c.startswith("telephone|") for c in columns),
                    f"history unchanged ({len(after)} rows, V2 still applied), telephone still in employes"
                    if before == after else f"history changed: {len(before)} -> {len(after)} rows"),
            verdict("app 1.0", ":1.0-" in image and answer.status == 200,
                    f"image {image.rsplit('/', 1)[-1]}, GET /api/employes -> HTTP {answer.status}"))

    return operation(name, run, (
        "helm rollback {release} -n {namespace} --wait",
        "kubectl -n {namespace} wait --for=condition=ready pod -l app=rhdemo-app --timeout=300s",
        psql_line(HISTORY_SQL), "curl -s localhost:8080/api/employes"))
