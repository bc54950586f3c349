"""Several app replicas starting at once on an empty database (in-app Flyway, Option 4B): each
migration is applied once — Flyway's advisory lock serialises them."""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Healthy, Scenario, Step
from scenarios._operations.checks import holds
from scenarios._operations.compose import sequence
from scenarios._operations.helm import install
from scenarios._operations.schema import who_migrated

REPLICAS = 4
VALUES: dict[str, Any] = {"migrations": {"mode": "app-flyway"}, "postgresql-keycloak": {"enabled": False},
                          "tests": {"enabled": False}, "rhdemo": {"replicaCount": REPLICAS}}


SCENARIO = Scenario(
    id="concurrent-migrations",
    title="Migrations concurrentes — plusieurs réplicas démarrent en même temps",
    summary=f"{REPLICAS} app replicas start at once on an empty database: each migration applied once, every pod ready",
    seed=["Option 4B"],
    steps=[
        Step(f"Install app 1.1 with {REPLICAS} replicas on an empty database",
             why="Option 4B : chaque réplica exécute Flyway au démarrage. Ils démarrent ensemble dès que la base "
                 "répond ; Flyway prend un verrou consultatif PostgreSQL, un seul applique V1 et V2, les "
                 "autres attendent puis trouvent le schéma à jour.",
             do=sequence(f"helm install with rhdemo.replicaCount={REPLICAS}, then read who migrated",
                         install(VALUES, app_release="1.1"),
                         who_migrated(REPLICAS)),
             timeout=300,
             expect=AllOf(Healthy("rhdemo-app"),
                          holds("each version once", "one history row per version (1 and 2)"),
                          holds("one migrator per migration", "each migration applied by exactly one replica"),
                          holds("all replicas ready", f"{REPLICAS}/{REPLICAS} replicas ready"))),
    ],
)
