"""Problème 3 — pas de gestion de migrations de schéma: `validate` against an empty database, then
each fix of the analysis on its own (Solution 3, 2A, 2B, 4B, 4A), each starting from an empty schema."""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Fails, Healthy, Scenario, Step
from scenarios._operations.checks import excerpt_shows, holds
from scenarios._operations.compose import sequence
from scenarios._operations.helm import install, upgrade
from scenarios._operations.observe import component_logs
from scenarios._operations.schema import (COLUMNS_SQL, HISTORY_SQL, MIGRATING, MISSING_TABLE, hibernate_caveat,
                                          reset_schema, upgrade_with_job, with_sql)
from scenarios._operations.wait import settled, wait_for_crash


def values(mode: str) -> dict[str, Any]:
    return {"migrations": {"mode": mode}, "postgresql-keycloak": {"enabled": False}, "tests": {"enabled": False}}


def empty_database_again(why: str) -> Step:
    """Each fix is shown on its own: drop what the previous one created, back to Problème 3's empty schema."""
    return Step("Start again from an empty database", why=why, do=reset_schema(), touches_data=False, timeout=60,
                expect=holds("empty schema", "no table left in public"))


SCENARIO = Scenario(
    id="missing-table",
    title="Problème 3 — pas de gestion de migrations de schéma",
    summary="validate on an empty database fails (missing table [employes]); then each fix on its own: 3, 2A, 2B, 4B, 4A",
    seed=["Problème 3", "Solution 3", "Option 2A", "Option 2B", "Option 4B", "Option 4A"],
    steps=[
        Step("Install with no migration mechanism (migrations.mode=none, ddl-auto validate)",
             why="Hibernate est en mode `validate` mais rien ne crée le schéma : la base est vide au premier "
                 "déploiement, l'application refuse de démarrer.",
             do=sequence("install without migrations, then watch the app start",
                         install(values("none"), wait=False),
                         wait_for_crash("rhdemo-app", MISSING_TABLE)),
             timeout=180, expect=Fails(log=MISSING_TABLE)),
        Step("Solution 3: the init-schema initContainer creates the table (helm upgrade)",
             why="Solution 3 (Priorité 1) : un initContainer vérifie `pg_tables` et crée `employes` et ses index "
                 "s'ils manquent, avant que l'application ne valide le schéma.",
             do=sequence("upgrade with migrations.mode=init-container",
                         upgrade(values("init-container"), collect=("rhdemo-app",)),
                         settled(),
                         component_logs("rhdemo-app", container="init-schema")),
             timeout=180,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows("✅ Schéma créé avec succès"))),
        empty_database_again("Chaque correctif est montré seul : on repart de la situation du Problème 3 (aucune table)."),
        Step("Option 2A: the SQL-migration Job applies V1 (pre-upgrade hook)",
             why="Option 2A : un Job applique les scripts SQL versionnés et note chaque version dans "
                 "`schema_migrations` ; en upgrade c'est un hook pre-upgrade, donc avant le nouveau pod.",
             do=upgrade_with_job(values("sql-job"), selector={"component": "schema-migration"}, container="migrate",
                                 job="schema-migration-", looks=("SELECT version, applied_at FROM schema_migrations",)),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows("V1__initial_schema", kinds=("sql",)))),
        empty_database_again("On efface ce que l'Option 2A a créé (table et `schema_migrations`)."),
        Step("Option 2B: the Flyway Job migrates to V1 (pre-upgrade hook)",
             why="Option 2B : l'image Flyway applique `V1__initial_schema.sql` du ConfigMap `flyway-migrations` "
                 "et tient `flyway_schema_history`.",
             do=upgrade_with_job(values("flyway-job"), selector={"component": "flyway-migration"}, container="flyway",
                                 job="flyway-migration-", looks=(HISTORY_SQL,)),
             timeout=240,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows("V1__initial_schema.sql", kinds=("sql",)))),
        empty_database_again("On efface ce que l'Option 2B a créé (table et `flyway_schema_history`)."),
        Step("Option 4B: Flyway inside the app migrates at startup",
             why="Option 4B (recommandée) : Flyway est dans l'application, ses migrations dans "
                 "`db/migration` ; il migre avant que Hibernate ne valide.",
             do=with_sql(sequence("upgrade with migrations.mode=app-flyway",
                                  upgrade(values("app-flyway"), collect=("rhdemo-app",)),
                                  settled(),
                                  component_logs("rhdemo-app")),
                         HISTORY_SQL),
             timeout=180,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows(MIGRATING + ' "1 - initial schema"'),
                          excerpt_shows("V1__initial_schema.sql", kinds=("sql",)))),
        empty_database_again("On efface ce que l'Option 4B a créé (table et `flyway_schema_history`)."),
        Step("Option 4A: ddl-auto update creates the table (app 1.1, with telephone)",
             why="Option 4A : Hibernate `update` crée ce qui manque au démarrage — simple, automatique.",
             do=with_sql(upgrade(values("hibernate-update"), app_release="1.1", collect=("rhdemo-app",)),
                         COLUMNS_SQL),
             timeout=180,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows("telephone", kinds=("sql",)))),
        Step("Option 4A's caveat: back to app 1.0, the telephone column stays and nothing is recorded",
             why="« Pas de rollback, peut créer des colonnes orphelines » : `update` ajoute, ne supprime jamais "
                 "et ne garde aucun historique ; les index de V1 n'existent pas non plus.",
             do=sequence("upgrade to app 1.0, then look at the schema",
                         upgrade(values("hibernate-update"), app_release="1.0", collect=("rhdemo-app",)),
                         settled(),
                         hibernate_caveat()),
             timeout=180,
             expect=AllOf(Healthy("rhdemo-app"),
                          holds("orphan column", "telephone stays (update never drops)", reproduces_failure=True),
                          holds("no history", "no migration history, V1's indexes absent", reproduces_failure=True))),
    ],
)
