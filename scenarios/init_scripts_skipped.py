"""Problème 2 — « Scripts d'init SQL non rejouables » (Solution 2A).

The scripts of `/docker-entrypoint-initdb.d` (the `postgresql-rhdemo-init` ConfigMap) run once, on an
empty PGDATA. Changing the ConfigMap and redeploying restarts the database pod, which logs
`Skipping initialization` and applies nothing. A versioned migration run by the SQL-migration Job
(2A) applies the same change, once.
"""

from __future__ import annotations

from typing import Any

from lab.scenario import Fails, Healthy, Scenario, Step, Succeeds
from scenarios._operations.app import insert_employes
from scenarios._operations.checks import evidence_contains
from scenarios._operations.compose import sequence
from scenarios._operations.db import sql
from scenarios._operations.helm import install, upgrade
from scenarios._operations.wait import wait_for_log

SKIPPING = "PostgreSQL Database directory appears to contain a database; Skipping initialization"
INIT_RAN = "running /docker-entrypoint-initdb.d/01-employes.sql"

# The schema as the team's first deployment created it: an init script of the database.
INIT_SCHEMA = """CREATE TABLE employes (
  id BIGSERIAL PRIMARY KEY,
  prenom VARCHAR(250) NOT NULL,
  nom VARCHAR(250) NOT NULL,
  mail VARCHAR(250) NOT NULL,
  adresse VARCHAR(500)
);
CREATE UNIQUE INDEX idx_employes_mail ON employes(mail);
"""
# The change: the seed's V2 (a telephone column), first as one more init script...
ADD_PHONE = "ALTER TABLE employes ADD COLUMN IF NOT EXISTS telephone VARCHAR(20);\n"
INIT_V1 = {"01-employes.sql": INIT_SCHEMA}
INIT_V2 = {**INIT_V1, "02-add-phone-column.sql": ADD_PHONE}

TELEPHONE = ("SELECT CASE WHEN EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'employes' "
             "AND column_name = 'telephone') THEN 'telephone present' ELSE 'telephone absent' END")
MIGRATIONS = "SELECT version FROM schema_migrations ORDER BY version"


def release(init_scripts: dict[str, str], **more: Any) -> dict[str, Any]:
    """Schema from the init scripts (migrations.mode=none: the app validates what is there)."""
    return {"postgresql-rhdemo": {"initScripts": init_scripts}, "migrations": {"mode": "none"}, **more}


SQL_JOB = {"migrations": {"mode": "sql-job", "files": {"V2__add_phone_column.sql": ADD_PHONE}}}

SCENARIO = Scenario(
    id="init-scripts-skipped",
    title="Problème 2 — les scripts d'init SQL ne sont pas rejoués",
    summary="Change the init ConfigMap and redeploy: the DB logs 'Skipping initialization', the change is absent; the SQL Job (2A) applies it",
    seed=["Problème 2", "Solution 2"],
    steps=[
        Step("Install with the schema in the init ConfigMap",
             why="Comme au premier déploiement : postgresql-rhdemo-init (monté sur /docker-entrypoint-initdb.d) "
                 "crée la table employes au premier démarrage, PGDATA étant vide.",
             do=sequence("helm install, then read the database's first-start log",
                         install(release(INIT_V1), name="helm install with initScripts 01-employes.sql"),
                         wait_for_log("postgresql-rhdemo", INIT_RAN, container="postgresql")),
             expect=Healthy("rhdemo-app"), timeout=300),
        Step("Write employés through the API",
             why="Des données à garder pendant tout le scénario.",
             do=insert_employes(), expect=Succeeds(), timeout=60),
        Step("Add a script to the init ConfigMap and redeploy",
             why="On ajoute 02-add-phone-column.sql au ConfigMap ; le pod PostgreSQL redémarre (checksum du "
                 "ConfigMap). « Les scripts dans /docker-entrypoint-initdb.d ne sont exécutés qu'une seule fois » : "
                 "PGDATA existe, l'entrypoint saute l'initialisation.",
             do=sequence("helm upgrade with 02-add-phone-column.sql, then read the new database pod's log",
                         upgrade(release(INIT_V2), name="helm upgrade with initScripts 02-add-phone-column.sql"),
                         wait_for_log("postgresql-rhdemo", SKIPPING, container="postgresql")),
             expect=Fails(log=SKIPPING, action_fails=False), timeout=300),
        Step("The change is absent from the database",
             why="« Modifications du schéma non appliquées lors des redéploiements » : pas de colonne telephone.",
             do=sql("rhdemo", TELEPHONE),
             expect=Fails(sql="telephone absent", action_fails=False), timeout=90, touches_data=False),
        Step("Solution 2A: the same change as migration V2, applied by the SQL-migration Job",
             why="Un Job (hook pre-upgrade) applique les fichiers versionnés absents de schema_migrations, "
                 "un par transaction : V1 (idempotent, CREATE ... IF NOT EXISTS) puis V2.",
             do=upgrade({**release(INIT_V2), **SQL_JOB},
                        name="helm upgrade with migrations.mode=sql-job and V2__add_phone_column.sql",
                        collect=["rhdemo-app"]),
             expect=Healthy("rhdemo-app"), timeout=300),
        Step("The column is there, recorded in schema_migrations",
             why="La preuve en SQL : telephone existe, et V2 est enregistrée (elle ne sera plus rejouée).",
             do=sequence("psql: the telephone column and schema_migrations",
                         sql("rhdemo", TELEPHONE), sql("rhdemo", MIGRATIONS)),
             expect=evidence_contains("telephone present", "V2__add_phone_column"), timeout=90, touches_data=False),
    ],
)
