"""Test 4 — ajout d'une migration: app 1.1 brings V2 (telephone); the upgrade applies it once, a
second redeploy applies nothing."""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Healthy, Scenario, Step
from scenarios._operations.app import insert_employes
from scenarios._operations.checks import excerpt_shows, holds
from scenarios._operations.helm import install
from scenarios._operations.schema import (HISTORY_SQL, MIGRATING, UP_TO_DATE, redeploy_restarting_app,
                                          upgrade_applying_v2, with_sql)

VALUES: dict[str, Any] = {"migrations": {"mode": "app-flyway"}, "postgresql-keycloak": {"enabled": False},
                          "tests": {"enabled": False}}


SCENARIO = Scenario(
    id="add-migration",
    title="Test 4 — ajout d'une migration (V2 : telephone)",
    summary="app 1.1 brings V2 (telephone): applied once by the upgrade, nothing applied by a second redeploy, rows intact",
    seed=["Test 4", "Option 4B"],
    steps=[
        Step("Install app 1.0 (in-app Flyway applies V1)",
             why="Le premier déploiement : Flyway crée `flyway_schema_history` et applique V1__initial_schema.",
             do=with_sql(install(VALUES), HISTORY_SQL), timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows("V1__initial_schema.sql", kinds=("sql",)))),
        Step("Put some employés in the database",
             why="Les lignes existantes doivent traverser la migration intactes.",
             do=insert_employes(), timeout=90, expect=Healthy("rhdemo-app")),
        Step("Test 4: upgrade to app 1.1, which adds V2__add_phone_column.sql",
             why="« Ajouter V2__add_column.sql ; helm upgrade ; vérifier que la migration est appliquée » : "
                 "Flyway voit V2 en attente et l'applique une fois, avant que Hibernate ne valide `telephone`.",
             do=upgrade_applying_v2(VALUES, name="helm upgrade to app 1.1"),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows(MIGRATING + ' "2 - add phone column"'),
                          holds("V2 once", "exactly one new history row, version 2"),
                          holds("telephone", "employes has the telephone column"))),
        Step("Redeploy 1.1 (same upgrade, pods restarted): nothing to apply",
             why="Un redéploiement de la même version ne rejoue rien : Flyway trouve le schéma à jour.",
             do=redeploy_restarting_app(VALUES, name="helm upgrade again, then restart the app"),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows(UP_TO_DATE),
                          holds("history unchanged", "flyway_schema_history unchanged (2 rows)"))),
    ],
)

