"""The seed's hook phases: a `pre-install` Job that waits for the database deadlocks the first install.

The seed annotates its Jobs `"helm.sh/hook": pre-upgrade,pre-install` and gives them an initContainer
that loops on `pg_isready` ("Waiting for PostgreSQL..."). On a first install Helm runs pre-install
hooks BEFORE it creates the release's objects: the database the hook waits for does not exist yet,
and never will until the hook finishes. The install hangs until helm's timeout. The chart's default
phases (the migration Job is a regular resource on install, a pre-upgrade hook on upgrade) install
fine.
"""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Fails, Hangs, Healthy, Scenario, Step, Succeeds
from scenarios._operations.app import insert_employes
from scenarios._operations.compose import sequence
from scenarios._operations.db import sql
from scenarios._operations.helm import (install, install_showing_statefulsets, uninstall_stuck_release, upgrade)

HELM_TIMEOUT = 75  # seconds: long enough to see the hook wait, short enough not to waste minutes
WAITING = "Waiting for PostgreSQL..."
NO_STATEFULSET = "no StatefulSet in the namespace"

# The seed's phases for the SQL-migration Job (Solution 2A), with the seed's pg_isready wait
# (passwordSync.mode=none: the wait-for-db initContainer is the seed's loop).
SEED_PHASES: dict[str, Any] = {"passwordSync": {"mode": "none"},
                               "migrations": {"mode": "sql-job", "hookEvents": "pre-install,pre-upgrade"}}
# The chart's default phases: the Job is created with the database on install, a pre-upgrade hook after.
DEFAULT_PHASES: dict[str, Any] = {"passwordSync": {"mode": "none"}, "migrations": {"mode": "sql-job"}}


SCENARIO = Scenario(
    id="hook-deadlock",
    title="Le hook pre-install qui attend la base : premier déploiement bloqué",
    summary="The seed's pre-install hook waits for a database the release has not created yet: the first install hangs; the default phases work",
    seed=["Solution 1", "Solution 2", "Test 1"],
    steps=[
        Step(f"First install with the seed's hook phases (pre-install,pre-upgrade), helm --timeout {HELM_TIMEOUT}s",
             why="Helm exécute les hooks pre-install AVANT de créer les objets de la release : l'initContainer "
                 "du Job boucle sur pg_isready (« Waiting for PostgreSQL... ») pour un StatefulSet qui n'existe pas "
                 "encore, et n'existera qu'après la fin du hook. Blocage jusqu'au timeout.",
             do=install_showing_statefulsets(SEED_PHASES, timeout=HELM_TIMEOUT, none_text=NO_STATEFULSET,
                                             name="helm install, migration Job hook pre-install"),
             expect=AllOf(Hangs(until=HELM_TIMEOUT),
                          Fails(log=WAITING, action_fails=False),
                          Fails(message=NO_STATEFULSET, action_fails=False)),
             timeout=HELM_TIMEOUT + 60),
        Step("Remove the stuck release",
             why="Le hook en attente reste (les hooks ne font pas partie du manifeste) : on nettoie.",
             do=uninstall_stuck_release(timeout=120), expect=Succeeds(), timeout=240, touches_data=False),
        Step("Install with the chart's default phases",
             why="Par défaut le Job de migration est une ressource ordinaire à l'installation (créé avec la base, "
                 "il l'attend) et un hook pre-upgrade ensuite : pas d'interblocage, ni avec --wait.",
             do=install(DEFAULT_PHASES, name="helm install, migration Job with the default phases"),
             expect=Healthy("rhdemo-app"), timeout=300),
        Step("Write employés, then upgrade: the Job now runs as a pre-upgrade hook",
             why="À la mise à jour la base existe déjà : le hook pre-upgrade la trouve, migre, et l'app suit.",
             do=sequence("insert rows, helm upgrade, read schema_migrations",
                         insert_employes(),
                         upgrade(DEFAULT_PHASES, name="helm upgrade (pre-upgrade migration hook)"),
                         sql("rhdemo", "SELECT version FROM schema_migrations ORDER BY version")),
             expect=Healthy("rhdemo-app"), timeout=300),
    ],
)
