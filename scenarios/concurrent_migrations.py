"""Several app replicas starting at once on an empty database (in-app Flyway, Option 4B): each
migration is applied once — Flyway's advisory lock serialises them."""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Evidence, Healthy, Scenario, Step
from lab.scenario.model import LOG

from scenarios._actions import install, sequence
from scenarios._schema_actions import (HISTORY_PER_VERSION_SQL, HISTORY_SQL, MIGRATING, UP_TO_DATE, app_pods,
                                       holds, migration_lines, observe, psql_line, rows, sql_evidence, verdict)

REPLICAS = 4
VALUES: dict[str, Any] = {"migrations": {"mode": "app-flyway"}, "postgresql-keycloak": {"enabled": False},
                          "tests": {"enabled": False}, "rhdemo": {"replicaCount": REPLICAS}}


def _who_migrated(ctx: Any) -> list[Evidence]:
    pods = app_pods(ctx)
    per_version = rows(ctx, HISTORY_PER_VERSION_SQL)
    logs = {p["name"]: migration_lines(ctx.pod_logs(p["name"], "rhdemo-app", tail=400)) for p in pods}
    applied = {pod: [line for line in lines if MIGRATING in line] for pod, lines in logs.items()}
    up_to_date = [pod for pod, lines in logs.items() if any(UP_TO_DATE in line for line in lines)]
    total_applied = sum(len(lines) for lines in applied.values())
    migrators = [f"{pod}: {len(lines)}" for pod, lines in applied.items() if lines]
    return [
        sql_evidence(ctx, HISTORY_SQL), sql_evidence(ctx, HISTORY_PER_VERSION_SQL),
        *[Evidence(LOG, f"pod/{pod}/rhdemo-app (Flyway)", "\n".join(lines)) for pod, lines in logs.items()],
        verdict("each version once", per_version == ["1|1", "2|1"], "version|rows: " + ", ".join(per_version)),
        verdict("one migrator per migration", total_applied == 2 and len(up_to_date) + len(migrators) >= 2,
                f"{total_applied} 'Migrating schema' line(s) across {len(pods)} replicas "
                f"(applied by {', '.join(migrators) or 'nobody'}; found up to date: {len(up_to_date)})"),
        verdict("all replicas ready", len(pods) == REPLICAS and all(p["ready"] for p in pods),
                f"{sum(p['ready'] for p in pods)}/{len(pods)} ready (restarts {sum(p['restarts'] for p in pods)})"),
    ]


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
                         observe("history and the replicas' Flyway lines", _who_migrated,
                                 (psql_line(HISTORY_PER_VERSION_SQL),
                                  "kubectl -n {namespace} logs -l app=rhdemo-app --prefix | grep -E 'Migrating|up to date'"))),
             timeout=300,
             expect=AllOf(Healthy("rhdemo-app"),
                          holds("each version once", "one history row per version (1 and 2)"),
                          holds("one migrator per migration", "each migration applied by exactly one replica"),
                          holds("all replicas ready", f"{REPLICAS}/{REPLICAS} replicas ready"))),
    ],
)
