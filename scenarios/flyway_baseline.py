"""In-app Flyway (Option 4B) on a database the init scripts already filled: without a baseline
Flyway refuses the non-empty schema; with baseline-on-migrate it writes a baseline at version 1
and therefore never runs V1 — the trap."""

from __future__ import annotations

from typing import Any

from lab.scenario import Action, ActionResult, AllOf, Evidence, Fails, Healthy, Scenario, Step

from scenarios._actions import component_logs, helm_line, install, resolve, sequence, upgrade, wait_for_crash
from scenarios._schema_actions import (HISTORY_SQL, INDEXES_SQL, NON_EMPTY_SCHEMA, TABLES_SQL, V1_INDEXES, holds,
                                       migration_lines, observe, psql_line, rows, settle, settled, shows, sql_evidence, verdict)

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


def _baseline_zero(ctx: Any) -> ActionResult:
    """Forget the wrong baseline, then start the app with baseline-version 0: V1 runs on the existing
    table (its CREATE ... IF NOT EXISTS make it safe there)."""
    drop = "DROP TABLE flyway_schema_history"
    rows(ctx, drop)
    result = ctx.upgrade(resolve(values(True, "0")), wait=True)
    if not result.ok:
        return ActionResult.failure(f"helm upgrade failed after {result.seconds:.0f}s", result.evidence(), *ctx.logs("rhdemo-app"))
    settle(ctx)
    history = rows(ctx, HISTORY_SQL)
    indexes = rows(ctx, INDEXES_SQL)
    missing = [index for index in V1_INDEXES if index not in indexes]
    v1_ran = any(line.split("|")[1:2] == ["1"] and "V1__initial_schema.sql" in line for line in history)
    return ActionResult.success(
        f"upgraded in {result.seconds:.0f}s", Evidence("sql", "psql rhdemo", drop), result.evidence(),
        sql_evidence(ctx, HISTORY_SQL), sql_evidence(ctx, INDEXES_SQL),
        verdict("V1 applied", v1_ran and not missing,
                f"history: {' ; '.join(history)}; V1's indexes " + ("all present" if not missing else f"missing: {', '.join(missing)}")))


def _baseline_trap(ctx: Any) -> list[Any]:
    history = rows(ctx, HISTORY_SQL)
    indexes = rows(ctx, INDEXES_SQL)
    logs = {pod: migration_lines(ctx.pod_logs(pod, "rhdemo-app", tail=400)) for pod in ctx.pods_of("rhdemo-app")}
    baseline_only = len(history) == 1 and "<< Flyway Baseline >>" in history[0] and history[0].split("|")[1] == "1"
    missing = [index for index in V1_INDEXES if index not in indexes]
    return [sql_evidence(ctx, HISTORY_SQL), sql_evidence(ctx, INDEXES_SQL), sql_evidence(ctx, TABLES_SQL),
            *[Evidence("log", f"pod/{pod}/rhdemo-app (Flyway)", "\n".join(lines)) for pod, lines in logs.items() if lines],
            verdict("V1 skipped", baseline_only and bool(missing),
                    f"history: {' ; '.join(history) or 'empty'}; V1 never ran: its indexes "
                    f"{', '.join(missing) or '(all present)'} do not exist")]


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
             expect=AllOf(Healthy("rhdemo-app"), shows("Successfully baselined schema with version: 1"))),
        Step("The trap: V1 was never run",
             why="La baseline est en version 1 : V1__initial_schema.sql est considérée comme déjà appliquée. Ce "
                 "que V1 ajoute au schéma des scripts d'init (ici ses index) n'existera jamais. Baseline-on-migrate "
                 "ne convient que si le schéma existant est exactement V1 — sinon baseline-version: 0.",
             do=observe("history rows and indexes", _baseline_trap, (psql_line(HISTORY_SQL), psql_line(INDEXES_SQL))),
             timeout=90,
             expect=AllOf(shows("<< Flyway Baseline >>", kinds=("sql",)),
                          holds("V1 skipped", "only the baseline row at version 1; V1's indexes absent",
                                reproduces_failure=True))),
        Step("The way out: baseline at version 0, so V1 runs on the existing table",
             why="Avec `baseline-version: 0`, la baseline précède V1 : Flyway applique V1 (ses `IF NOT EXISTS` "
                 "la rendent sûre sur la table des scripts d'init) et les index manquants sont créés.",
             do=Action("drop the wrong history, upgrade with spring.flyway.baseline-version=0", _baseline_zero, (
                 psql_line("DROP TABLE flyway_schema_history"),
                 helm_line(values(True, "0")),
                 psql_line(HISTORY_SQL), psql_line(INDEXES_SQL))),
             timeout=180,
             expect=AllOf(Healthy("rhdemo-app"), holds("V1 applied", "V1 recorded after the baseline, its indexes created"))),
    ],
)
