"""Test 5 and Solution 5 — rollback: a broken release is caught by the health checks and rolled back
automatically; then 1.0 -> 1.1 (V2) and `helm rollback` to 1.0: the schema stays at V2."""

from __future__ import annotations

from typing import Any

from lab.scenario import Action, ActionResult, AllOf, Evidence, Fails, Healthy, Scenario, Step
from lab.scenario.model import LOG, SQL, STATUS

from scenarios._actions import helm_line, insert_employes, install, resolve, sequence, upgrade
from scenarios._schema_actions import (COLUMNS_SQL, HISTORY_SQL, UP_TO_DATE, app_logs_per_pod, helm_test_phases, holds, settle,
                                       migration_lines, observe, psql_line, rows, shows, verdict, with_sql)

VALUES: dict[str, Any] = {"migrations": {"mode": "app-flyway"}, "postgresql-keycloak": {"enabled": False},
                          "tests": {"enabled": True}}
# A release that cannot start: an image tag that is not in the node (pull policy Never in the local set).
BROKEN_TAG = "1.0-does-not-exist"
BROKEN: dict[str, Any] = {**VALUES, "rhdemo": {"image": {"tag": BROKEN_TAG}}}
BROKEN_TIMEOUT = 60


def _history_text(ctx: Any) -> str:
    return "\n".join(f"{h.get('revision')}  {h.get('status'):<11} {h.get('app_version', '')}  {h.get('description', '')}"
                     for h in ctx.helm_history())


def _broken_upgrade(ctx: Any) -> ActionResult:
    """helm upgrade --atomic (Helm 4: --rollback-on-failure) of a release whose pods never get ready."""
    result = ctx.upgrade(resolve(BROKEN), wait=True, atomic=True, timeout=BROKEN_TIMEOUT)
    evidence = [result.evidence(), *ctx.events(warnings_only=True, limit=10),
                Evidence(STATUS, "helm history", _history_text(ctx))]
    if result.ok:
        return ActionResult.success("the broken release was deployed (!)", *evidence)
    return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s and rolled back", *evidence)


def _after_rollback(ctx: Any) -> list[Evidence]:
    history = ctx.helm_history()
    last = history[-1] if history else {}
    image = ctx.kubectl("get", "deployment/rhdemo-app", "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
    rolled = last.get("status") == "deployed" and "Rollback" in str(last.get("description", ""))
    return [Evidence(STATUS, "helm history", _history_text(ctx)),
            verdict("rolled back", rolled and BROKEN_TAG not in image,
                    f"revision {last.get('revision')} {last.get('status')}: {last.get('description')}; image {image}")]


def _rollback_to_1_0(ctx: Any) -> ActionResult:
    """helm rollback to the 1.0 revision, then: the schema, the app's Flyway lines, the API."""
    before = rows(ctx, HISTORY_SQL)
    result = ctx.rollback()
    if not result.ok:
        return ActionResult.failure(f"helm rollback failed after {result.seconds:.0f}s", result.evidence(), *ctx.logs("rhdemo-app"))
    settle(ctx)
    after = rows(ctx, HISTORY_SQL)
    columns = rows(ctx, COLUMNS_SQL)
    image = ctx.kubectl("get", "deployment/rhdemo-app", "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
    code, body = ctx.http("GET", "/api/employes?size=5")
    v2 = [line for line in after if line.split("|")[1:2] == ["2"]]
    return ActionResult.success(
        f"rolled back in {result.seconds:.0f}s", result.evidence(),
        Evidence(STATUS, "helm history", _history_text(ctx)),
        *[Evidence(LOG, f"pod/{pod}/rhdemo-app (Flyway)", "\n".join(migration_lines(text)))
          for pod, text in app_logs_per_pod(ctx).items()],
        Evidence(SQL, "psql rhdemo", f"{HISTORY_SQL}\nbefore:\n" + "\n".join(before) + "\nafter:\n" + "\n".join(after)),
        Evidence(SQL, "psql rhdemo", f"{COLUMNS_SQL}\n" + "\n".join(columns)),
        Evidence("output", "GET :8080/api/employes?size=5", f"HTTP {code}\n{body[:600]}"),
        verdict("schema stays at V2", before == after and len(v2) == 1 and any(c.startswith("telephone|") for c in columns),
                f"history unchanged ({len(after)} rows, V2 still applied), telephone still in employes"
                if before == after else f"history changed: {len(before)} -> {len(after)} rows"),
        verdict("app 1.0", ":1.0-" in image and code == 200,
                f"image {image.rsplit('/', 1)[-1]}, GET /api/employes -> HTTP {code}"))


SCENARIO = Scenario(
    id="rollback",
    title="Test 5 et Solution 5 — rollback automatique et rollback après une migration",
    summary="a broken release is rolled back automatically by the health checks; helm rollback 1.1 -> 1.0 keeps the schema at V2",
    seed=["Test 5", "Solution 5"],
    steps=[
        Step("Install app 1.0 (in-app Flyway applies V1)",
             why="Le point de départ : une release saine, révision 1.",
             do=with_sql(install(VALUES), HISTORY_SQL), timeout=240, expect=Healthy("rhdemo-app")),
        Step("Put some employés in the database",
             why="Des lignes réelles : ni l'échec, ni les rollbacks ne doivent en perdre.",
             do=insert_employes(), timeout=90, expect=Healthy("rhdemo-app")),
        Step("A broken release (image tag that does not exist), helm upgrade --atomic",
             why="Solution 5 : « attendre que tous les pods soient Ready … || helm rollback ». Helm le fait "
                 "lui-même avec --atomic (Helm 4 : --rollback-on-failure) : --wait voit que le nouveau pod ne "
                 "devient jamais Ready (sondes actuator), puis Helm revient à la révision précédente. "
                 "maxUnavailable 0 : l'ancien pod sert pendant ce temps.",
             do=Action("helm upgrade --atomic with a bad image tag", _broken_upgrade, (
                 helm_line(BROKEN, timeout=f"{BROKEN_TIMEOUT}s").replace("--wait", "--wait --atomic")
                 .replace("--set rhdemo.image.tag=<app 1.0 tag> ", ""),
                 "helm history {release} -n {namespace}")),
             timeout=BROKEN_TIMEOUT + 150,
             expect=AllOf(Fails(log="has been rolled back"), Fails(event="ErrImageNeverPull"))),
        Step("The health checks pass again: helm test (Solution 5's smoke tests)",
             why="Après le rollback automatique, les tests de fumée de la Solution 5 (actuator health, db, "
                 "ping) passent sur la révision restaurée.",
             do=sequence("helm test, then helm history", helm_test_phases(),
                         observe("helm history and the app's image", _after_rollback,
                                 ("helm history {release} -n {namespace}",))),
             timeout=180, touches_data=False,
             expect=AllOf(Healthy("rhdemo-app"),
                          holds("smoke tests", "the test pods health, db and ping succeed"),
                          holds("rolled back", "the last revision is the rollback, the app runs the old image"))),
        Step("Upgrade 1.0 -> 1.1: V2 (telephone) applied",
             why="La version 1.1 apporte V2__add_phone_column.sql : Flyway l'applique au démarrage.",
             do=with_sql(upgrade(VALUES, app_release="1.1", collect=("rhdemo-app",)), HISTORY_SQL, COLUMNS_SQL),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), shows("V2__add_phone_column.sql", kinds=("sql",)))),
        Step("Test 5: helm rollback to 1.0 — the schema stays at V2, 1.0 still works",
             why="« helm rollback rhdemo » ne rejoue que les hooks de rollback : une migration n'est jamais "
                 "défaite. La 1.0 démarre sur un schéma en V2 : Flyway ignore la migration « future », "
                 "Hibernate `validate` tolère la colonne en plus.",
             do=Action("helm rollback to the 1.0 revision", _rollback_to_1_0, (
                 "helm rollback {release} -n {namespace} --wait",
                 "kubectl -n {namespace} wait --for=condition=ready pod -l app=rhdemo-app --timeout=300s",
                 psql_line(HISTORY_SQL), "curl -s localhost:8080/api/employes")),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), shows(UP_TO_DATE),
                          holds("schema stays at V2", "flyway_schema_history and telephone unchanged by the rollback"),
                          holds("app 1.0", "app 1.0 runs and answers"))),
    ],
)
