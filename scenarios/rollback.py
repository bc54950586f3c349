"""Test 5 and Solution 5 — rollback: a broken release is caught by the health checks and rolled back
automatically; then 1.0 -> 1.1 (V2) and `helm rollback` to 1.0: the schema stays at V2."""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Fails, Healthy, Scenario, Step
from scenarios._operations.app import insert_employes
from scenarios._operations.checks import excerpt_shows, holds
from scenarios._operations.compose import sequence
from scenarios._operations.helm import helm_test_phases, install, upgrade
from scenarios._operations.schema import (COLUMNS_SQL, HISTORY_SQL, UP_TO_DATE, atomic_upgrade_rolled_back,
                                          rollback_keeps_schema, rolled_back_from, with_sql)
from scenarios._operations.values import helm_line

VALUES: dict[str, Any] = {"migrations": {"mode": "app-flyway"}, "postgresql-keycloak": {"enabled": False},
                          "tests": {"enabled": True}}
# A release that cannot start: an image tag that is not in the node (pull policy Never in the local set).
BROKEN_TAG = "1.0-does-not-exist"
BROKEN: dict[str, Any] = {**VALUES, "rhdemo": {"image": {"tag": BROKEN_TAG}}}
BROKEN_TIMEOUT = 60


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
             do=atomic_upgrade_rolled_back(BROKEN, timeout=BROKEN_TIMEOUT, name="helm upgrade --atomic with a bad image tag",
                                           replay=(helm_line(BROKEN, timeout=f"{BROKEN_TIMEOUT}s")
                                                   .replace("--wait", "--wait --atomic")
                                                   .replace("--set rhdemo.image.tag=<app 1.0 tag> ", ""),
                                                   "helm history {release} -n {namespace}")),
             timeout=BROKEN_TIMEOUT + 150,
             expect=AllOf(Fails(log="has been rolled back"), Fails(event="ErrImageNeverPull"))),
        Step("The health checks pass again: helm test (Solution 5's smoke tests)",
             why="Après le rollback automatique, les tests de fumée de la Solution 5 (actuator health, db, "
                 "ping) passent sur la révision restaurée.",
             do=sequence("helm test, then helm history", helm_test_phases(),
                         rolled_back_from(BROKEN_TAG)),
             timeout=180, touches_data=False,
             expect=AllOf(Healthy("rhdemo-app"),
                          holds("smoke tests", "the test pods health, db and ping succeed"),
                          holds("rolled back", "the last revision is the rollback, the app runs the old image"))),
        Step("Upgrade 1.0 -> 1.1: V2 (telephone) applied",
             why="La version 1.1 apporte V2__add_phone_column.sql : Flyway l'applique au démarrage.",
             do=with_sql(upgrade(VALUES, app_release="1.1", collect=("rhdemo-app",)), HISTORY_SQL, COLUMNS_SQL),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows("V2__add_phone_column.sql", kinds=("sql",)))),
        Step("Test 5: helm rollback to 1.0 — the schema stays at V2, 1.0 still works",
             why="« helm rollback rhdemo » ne rejoue que les hooks de rollback : une migration n'est jamais "
                 "défaite. La 1.0 démarre sur un schéma en V2 : Flyway ignore la migration « future », "
                 "Hibernate `validate` tolère la colonne en plus.",
             do=rollback_keeps_schema(name="helm rollback to the 1.0 revision"),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows(UP_TO_DATE),
                          holds("schema stays at V2", "flyway_schema_history and telephone unchanged by the rollback"),
                          holds("app 1.0", "app 1.0 runs and answers"))),
    ],
)
