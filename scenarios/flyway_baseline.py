"""In-app Flyway (Option 4B) on a database the init scripts already filled: without a baseline
Flyway refuses the non-empty schema; with baseline-on-migrate it writes a baseline at version 1
and therefore never runs V1 — the trap."""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Fails, Healthy, Scenario, Step
from scenarios._operations.checks import excerpt_shows, holds
from scenarios._operations.compose import sequence
from scenarios._operations.helm import install, upgrade
from scenarios._operations.observe import component_logs
from scenarios._operations.schema import (NON_EMPTY_SCHEMA, baseline_trap, rebaseline_at_zero)
from scenarios._operations.wait import settled, wait_for_crash

# The first deployment's `postgresql-rhdemo-init` script, written before any migration tool: it makes
# `employes` (without V1's secondary indexes) and a few rows. It runs once, on the empty PGDATA.
INIT_SCRIPT = """\
CREATE TABLE employes (
  id BIGSERIAL PRIMARY KEY,
  prenom VARCHAR(250) NOT NULL,
  nom VARCHAR(250) NOT NULL,
  mail VARCHAR(250) NOT NULL UNIQUE,
  adresse VARCHAR(500)
);
INSERT INTO employes (prenom, nom, mail, adresse) VALUES
  ('Marie', 'Curie', 'marie.curie@rhdemo.example', 'Paris'),
  ('Louis', 'Pasteur', 'louis.pasteur@rhdemo.example', 'Dole');
"""


def values(baseline: bool, baseline_version: str | None = None) -> dict[str, Any]:
    rhdemo: dict[str, Any] = {"flyway": {"baselineOnMigrate": baseline}}
    if baseline_version is not None:
        rhdemo["extraConfig"] = {"spring": {"flyway": {"baseline-version": baseline_version}}}
    return {"migrations": {"mode": "app-flyway"}, "postgresql-keycloak": {"enabled": False}, "tests": {"enabled": False},
            "postgresql-rhdemo": {"initScripts": {"01-employes.sql": INIT_SCRIPT}}, "rhdemo": rhdemo}


SCENARIO = Scenario(
    id="flyway-baseline",
    title="Flyway dans l'application sur une base déjà initialisée par les scripts d'init",
    summary="in-app Flyway on an init-script database: refused without baseline; with baseline-on-migrate V1 is skipped (the trap)",
    seed=["Option 4B", "Problème 2", "Phase 3"],
    steps=[
        Step("First deployment: the init script creates employes, in-app Flyway without baseline",
             why="La base a été initialisée par `postgresql-rhdemo-init` (table `employes` et des lignes), puis "
                 "on passe à l'Option 4B : Flyway trouve un schéma non vide sans historique et refuse de migrer "
                 "(Spring Boot : baseline-on-migrate=false par défaut).",
             do=sequence("install with init scripts and in-app Flyway, then watch the app start",
                         install(values(False), wait=False),
                         component_logs("postgresql-rhdemo"),
                         wait_for_crash("rhdemo-app", 'Found non-empty schema(s) "public" but no schema history table')),
             timeout=180, expect=Fails(log=NON_EMPTY_SCHEMA)),
        Step("baseline-on-migrate: true (the seed's setting) — the app starts",
             why="Le seed met `baseline-on-migrate: true` : Flyway crée `flyway_schema_history` avec une ligne "
                 "`<< Flyway Baseline >>` en version 1 et l'application démarre.",
             do=sequence("upgrade with rhdemo.flyway.baselineOnMigrate=true",
                         upgrade(values(True), collect=("rhdemo-app",)),
                         settled(),
                         component_logs("rhdemo-app")),
             timeout=180,
             expect=AllOf(Healthy("rhdemo-app"), excerpt_shows("Successfully baselined schema with version: 1"))),
        Step("The trap: V1 was never run",
             why="La baseline est en version 1 : V1__initial_schema.sql est considérée comme déjà appliquée. Ce "
                 "que V1 ajoute au schéma des scripts d'init (ici ses index) n'existera jamais. Baseline-on-migrate "
                 "ne convient que si le schéma existant est exactement V1 — sinon baseline-version: 0.",
             do=baseline_trap(),
             timeout=90,
             expect=AllOf(excerpt_shows("<< Flyway Baseline >>", kinds=("sql",)),
                          holds("V1 skipped", "only the baseline row at version 1; V1's indexes absent",
                                reproduces_failure=True))),
        Step("The way out: baseline at version 0, so V1 runs on the existing table",
             why="Avec `baseline-version: 0`, la baseline précède V1 : Flyway applique V1 (ses `IF NOT EXISTS` "
                 "la rendent sûre sur la table des scripts d'init) et les index manquants sont créés.",
             do=rebaseline_at_zero(values(True, "0"),
                                   name="drop the wrong history, upgrade with spring.flyway.baseline-version=0"),
             timeout=180,
             expect=AllOf(Healthy("rhdemo-app"), holds("V1 applied", "V1 recorded after the baseline, its indexes created"))),
    ],
)
