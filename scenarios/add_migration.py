"""Test 4 — ajout d'une migration: app 1.1 brings V2 (telephone); the upgrade applies it once, a
second redeploy applies nothing."""

from __future__ import annotations

from typing import Any

from lab.scenario import Action, ActionResult, AllOf, Evidence, Healthy, Scenario, Step
from lab.scenario.model import LOG, SQL

from scenarios._actions import helm_line, insert_employes, install, resolve
from scenarios._schema_actions import (COLUMNS_SQL, HISTORY_SQL, MIGRATING, UP_TO_DATE, app_logs_per_pod, holds, settle,
                                       migration_lines, psql_line, rows, shows, verdict, with_sql)

VALUES: dict[str, Any] = {"migrations": {"mode": "app-flyway"}, "postgresql-keycloak": {"enabled": False},
                          "tests": {"enabled": False}}


def _upgrade_v2(ctx: Any) -> ActionResult:
    """helm upgrade to 1.1, then: the history, the columns, and the new pod's Flyway lines."""
    before = rows(ctx, HISTORY_SQL)
    result = ctx.upgrade(resolve(VALUES), app_release="1.1", wait=True)
    if not result.ok:
        return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s", result.evidence(), *ctx.logs("rhdemo-app"))
    settle(ctx)
    after = rows(ctx, HISTORY_SQL)
    columns = rows(ctx, COLUMNS_SQL)
    logs = app_logs_per_pod(ctx)
    new_rows = [line for line in after if line not in before]
    v2_rows = [line for line in after if line.split("|")[1:2] == ["2"]]
    return ActionResult.success(
        f"upgraded in {result.seconds:.0f}s", result.evidence(),
        *[Evidence(LOG, f"pod/{pod}/rhdemo-app (Flyway)", "\n".join(migration_lines(text))) for pod, text in logs.items()],
        Evidence(SQL, "psql rhdemo", f"{HISTORY_SQL}\nbefore:\n" + "\n".join(before) + "\nafter:\n" + "\n".join(after)),
        Evidence(SQL, "psql rhdemo", f"{COLUMNS_SQL}\n" + "\n".join(columns)),
        verdict("V2 once", len(v2_rows) == 1 and len(new_rows) == 1,
                f"new history row(s): {'; '.join(new_rows) or 'none'}"),
        verdict("telephone", any(line.startswith("telephone|") for line in columns),
                ", ".join(line.split("|")[0] for line in columns)))


def _redeploy(ctx: Any) -> ActionResult:
    """The same upgrade again, and new app pods (rollout restart) so Flyway really runs once more."""
    before = rows(ctx, HISTORY_SQL)
    result = ctx.upgrade(resolve(VALUES), app_release="1.1", wait=True)
    if not result.ok:
        return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s", result.evidence())
    ctx.kubectl("rollout", "restart", "deployment/rhdemo-app", timeout=60)
    ctx.kubectl("rollout", "status", "deployment/rhdemo-app", f"--timeout={int(max(30, ctx.step_timeout - 60))}s",
                timeout=ctx.step_timeout)
    settle(ctx)
    after = rows(ctx, HISTORY_SQL)
    logs = app_logs_per_pod(ctx)
    return ActionResult.success(
        f"upgraded in {result.seconds:.0f}s, app pods restarted", result.evidence(),
        *[Evidence(LOG, f"pod/{pod}/rhdemo-app (Flyway)", "\n".join(migration_lines(text))) for pod, text in logs.items()],
        Evidence(SQL, "psql rhdemo", f"{HISTORY_SQL}\nbefore:\n" + "\n".join(before) + "\nafter:\n" + "\n".join(after)),
        verdict("history unchanged", before == after and len(after) == 2,
                f"{len(after)} rows, identical (installed_on included)" if before == after
                else f"{len(before)} -> {len(after)} rows"))


SCENARIO = Scenario(
    id="add-migration",
    title="Test 4 — ajout d'une migration (V2 : telephone)",
    summary="app 1.1 brings V2 (telephone): applied once by the upgrade, nothing applied by a second redeploy, rows intact",
    seed=["Test 4", "Option 4B"],
    steps=[
        Step("Install app 1.0 (in-app Flyway applies V1)",
             why="Le premier déploiement : Flyway crée `flyway_schema_history` et applique V1__initial_schema.",
             do=with_sql(install(VALUES), HISTORY_SQL), timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), shows("V1__initial_schema.sql", kinds=("sql",)))),
        Step("Put some employés in the database",
             why="Les lignes existantes doivent traverser la migration intactes.",
             do=insert_employes(), timeout=90, expect=Healthy("rhdemo-app")),
        Step("Test 4: upgrade to app 1.1, which adds V2__add_phone_column.sql",
             why="« Ajouter V2__add_column.sql ; helm upgrade ; vérifier que la migration est appliquée » : "
                 "Flyway voit V2 en attente et l'applique une fois, avant que Hibernate ne valide `telephone`.",
             do=Action("helm upgrade to app 1.1", _upgrade_v2, (
                 helm_line(VALUES, app_release="1.1"), psql_line(HISTORY_SQL), psql_line(COLUMNS_SQL))),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), shows(MIGRATING + ' "2 - add phone column"'),
                          holds("V2 once", "exactly one new history row, version 2"),
                          holds("telephone", "employes has the telephone column"))),
        Step("Redeploy 1.1 (same upgrade, pods restarted): nothing to apply",
             why="Un redéploiement de la même version ne rejoue rien : Flyway trouve le schéma à jour.",
             do=Action("helm upgrade again, then restart the app", _redeploy, (
                 helm_line(VALUES, app_release="1.1"),
                 "kubectl -n {namespace} rollout restart deployment/rhdemo-app",
                 "kubectl -n {namespace} rollout status deployment/rhdemo-app",
                 psql_line(HISTORY_SQL))),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), shows(UP_TO_DATE),
                          holds("history unchanged", "flyway_schema_history unchanged (2 rows)"))),
    ],
)

