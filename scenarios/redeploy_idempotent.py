"""Test 2 — redéploiement sans changement: the same `helm upgrade` twice changes nothing, and the app
answers all along (the engine's availability probe, judged by `Available()`)."""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Available, Healthy, Scenario, Step
from scenarios._operations.app import insert_employes
from scenarios._operations.checks import holds
from scenarios._operations.helm import install
from scenarios._operations.schema import HISTORY_SQL, redeploy_unchanged, with_sql

# The chart's defaults (in-app Flyway, robust password sync), as the lead deploys them.
VALUES: dict[str, Any] = {"postgresql-keycloak": {"enabled": False}, "tests": {"enabled": False}}

SCENARIO = Scenario(
    id="redeploy-idempotent",
    title="Test 2 — redéploiement sans changement (doit être idempotent)",
    summary="helm upgrade with nothing changed: same pods, no new migration, rows intact, the app answers throughout",
    seed=["Test 1", "Test 2"],
    steps=[
        Step("Test 1: first install (chart defaults: in-app Flyway, robust password sync)",
             why="« helm install rhdemo ./helm/rhdemo » puis « kubectl wait --for=condition=ready » : le "
                 "premier déploiement initialise PGDATA et Flyway applique V1.",
             do=with_sql(install(VALUES), HISTORY_SQL), timeout=240,
             expect=Healthy("rhdemo-app")),
        Step("Put some employés in the database",
             why="Des lignes réelles dans `employes` : le redéploiement ne doit rien perdre.",
             do=insert_employes(), timeout=90, expect=Healthy("rhdemo-app")),
        Step("Test 2: the same helm upgrade again, requesting the app all along",
             why="« helm upgrade rhdemo ./helm/rhdemo » sans rien changer doit être idempotent : aucun pod "
                 "redémarré, aucune migration rejouée, aucune ligne perdue, aucune requête en échec.",
             do=redeploy_unchanged(VALUES), timeout=240,
             expect=AllOf(Healthy("rhdemo-app"),
                          holds("same pods", "the same app pods, not restarted"),
                          holds("same replicasets", "no new ReplicaSet (no rollout)"),
                          holds("no new migration", "flyway_schema_history unchanged"),
                          Available())),
    ],
)
