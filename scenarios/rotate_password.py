"""Problème 1 — « Mot de passe figé à l'initialisation » (Solution 1, Test 3).

PostgreSQL sets the role's password only when PGDATA is empty (first start). Rotating the Secret
afterwards changes what the app sends, not what the server expects: `password authentication failed`.
The seed's Job cannot fix it (it logs in with the NEW password); the chart's robust sync applies the
Secret's password inside the database pod, through the local socket, and the app follows.

The window the robust sync leaves open, measured by the engine's availability probe: a `kubectl apply`
rotation with no `helm upgrade` (External Secrets, Vault, a CronJob) changes the role's password while
the app keeps the old one in its environment; it serves on its pooled connections until its next
reconnect, then fails with `password authentication failed`.
"""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Available, Fails, Healthy, Outage, Scenario, Step, Succeeds
from scenarios._operations.app import http_get, insert_employes
from scenarios._operations.checks import evidence_contains
from scenarios._operations.compose import sequence
from scenarios._operations.db import check_login, rotate_secret, sql, terminate_backends, wait_for_login
from scenarios._operations.helm import (install, rotate_secret_then_upgrade, upgrade_then_wait_for,
                                        upgrade_then_wait_for_app)
from scenarios._operations.values import Password
from scenarios._operations.wait import APP, wait_for_log

A = Password("A")
B = Password("B")
C = Password("C")
D = Password("D")
KEYCLOAK_A = Password("keycloak-A")
KEYCLOAK_B = Password("keycloak-B")

AUTH_FAILED = 'password authentication failed for user "rhdemo"'
KEYCLOAK_AUTH_FAILED = 'password authentication failed for user "keycloak"'
SEED_JOB_MESSAGE = "Impossible de se connecter"


def sync(mode: str, **more: Any) -> dict[str, Any]:
    """The release's values for this passwordSync mode (no password: the live Secret is kept)."""
    return {"passwordSync": {"mode": mode}, **more}


def with_password(values: dict[str, Any], password: Password) -> dict[str, Any]:
    return {**values, "postgresql-rhdemo": {"database": {"password": password}}}


KEYCLOAK_ON = {"keycloak": {"enabled": True,
                            # Keycloak itself is not waited for (minutes on 2 cores): keep it from starving the rest.
                            "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "500m"}}}}

SCENARIO = Scenario(
    id="rotate-password",
    title="Problème 1 — le mot de passe PostgreSQL figé à l'initialisation",
    summary="Rotate the DB password: no sync fails, the seed's Job fails, the robust sync works (app and Keycloak DBs)",
    seed=["Problème 1", "Solution 1", "Test 3"],
    steps=[
        Step("Install with password A, no sync",
             why="Premier démarrage : PGDATA est vide, l'entrypoint initialise le rôle rhdemo avec "
                 "POSTGRES_PASSWORD = A (passwordSync.mode=none : le chart d'origine).",
             do=install(with_password(sync("none"), A), name="helm install with password A, passwordSync.mode=none"),
             expect=Healthy("rhdemo-app"), timeout=300),
        Step("Write employés through the API",
             why="Des données réelles : aucune rotation de mot de passe ne doit en perdre une seule.",
             do=insert_employes(), expect=Succeeds(), timeout=60),
        Step("Test 3 without sync: rotate the Secret to B with kubectl apply, then helm upgrade",
             why="« Les changements ultérieurs dans les secrets Kubernetes ne sont pas pris en compte » : "
                 "PGDATA existe, POSTGRES_PASSWORD est ignoré, le rôle garde A ; l'app envoie B.",
             do=rotate_secret_then_upgrade("rhdemo-db-secret", B, sync("none"), fail_text=AUTH_FAILED),
             expect=Fails(log=AUTH_FAILED), timeout=180),
        Step("The seed's Solution 1 Job: same rotation, passwordSync.mode=seed",
             why="Le Job de l'analyse se connecte avec PGPASSWORD = le NOUVEAU mot de passe (B) : le serveur "
                 "attend toujours A, le hook pre-upgrade échoue et conseille de supprimer le PVC.",
             do=rotate_secret_then_upgrade("rhdemo-db-secret", B, sync("seed")),
             expect=Fails(log=SEED_JOB_MESSAGE), timeout=180),
        Step("Solution 1, robust: helm upgrade with passwordSync.mode=robust",
             why="Le conteneur password-sync du pod PostgreSQL applique le mot de passe du Secret par le "
                 "socket local (trust, aucun ancien mot de passe requis) ; l'app démarre sur B.",
             do=upgrade_then_wait_for_app(sync("robust"), name="helm upgrade with passwordSync.mode=robust"),
             expect=Healthy("rhdemo-app"), timeout=300),
        Step("B logs in over TCP and the rows are all there",
             why="La preuve côté serveur : le rôle rhdemo accepte B (scram-sha-256), A est refusé, "
                 "et l'API rend les employés écrits avant la rotation.",
             do=sequence("check the role's password and the API",
                         check_login("rhdemo", "rhdemo", B),
                         http_get("/api/employes?size=50"),
                         sql("rhdemo", "SELECT count(*) FROM employes")),
             expect=evidence_contains("Curie", "Pasteur", "Lovelace"), timeout=90, touches_data=False),
        Step("The old password A no longer logs in",
             why="La rotation est réelle : l'ancien mot de passe est refusé par le serveur.",
             do=check_login("rhdemo", "rhdemo", A),
             expect=Fails(log=AUTH_FAILED), timeout=60, touches_data=False),
        Step("Rotation through values: postgresql-rhdemo.database.password=C",
             why="L'autre chemin de rotation : le mot de passe donné à Helm (fichier de valeurs) ; "
                 "le Secret, le pod PostgreSQL et l'app suivent dans la même révision.",
             do=upgrade_then_wait_for_app(with_password(sync("robust"), C),
                                          name="helm upgrade with a new password in values (robust)"),
             expect=Healthy("rhdemo-app"), timeout=300),
        Step("C logs in",
             why="Le serveur a bien pris C.",
             do=check_login("rhdemo", "rhdemo", C), expect=Succeeds(), timeout=60, touches_data=False),
        Step("Test 3, robust sync, kubectl apply alone: the Secret rotated to D, no helm upgrade",
             why="« kubectl create secret generic rhdemo-db-secret ... | kubectl apply -f - », et pas de « helm "
                 "upgrade » (External Secrets, Vault, une CronJob) : le conteneur password-sync applique D au rôle "
                 "rhdemo en une minute environ. L'app garde C dans son environnement, mais ses connexions déjà "
                 "ouvertes restent valides : elle répond toujours.",
             do=sequence("rotate rhdemo-db-secret to D with kubectl apply alone, wait until D logs in",
                         rotate_secret("rhdemo-db-secret", D), wait_for_login("rhdemo", "rhdemo", D)),
             expect=AllOf(Succeeds(), Available()), timeout=240),
        Step("The app's next reconnect (a database restart, a network blip): its connections are cut",
             why="« Erreur \"password authentication failed\" même avec les bons secrets » : le pool Hikari "
                 "doit se reconnecter, avec C ; le serveur attend D. Chaque requête attend connection-timeout "
                 "(30 s) puis échoue : la panne dure jusqu'au prochain redémarrage de l'app.",
             do=sequence("terminate the app's connections (pg_terminate_backend), then read its log",
                         terminate_backends("rhdemo", "rhdemo"), wait_for_log(APP, AUTH_FAILED)),
             expect=AllOf(Fails(log=AUTH_FAILED, action_fails=False), Outage()), timeout=180),
        Step("The helm upgrade the rotation lacked: the app restarts with D",
             why="« Vérifier que l'application se connecte avec le nouveau mot de passe » : helm upgrade relit le "
                 "Secret (lookup), la somme de contrôle du pod de l'app change, l'app redémarre avec D.",
             do=upgrade_then_wait_for_app(sync("robust"), name="helm upgrade (robust): the app restarts with D"),
             expect=Healthy("rhdemo-app"), timeout=300),
        Step("Keycloak's database: enable Keycloak with password keycloak-A",
             why="Même problème pour postgresql-keycloak. Keycloak met plusieurs minutes à démarrer sur 2 cœurs : "
                 "on attend sa base seulement, et on vérifie le mot de passe du rôle keycloak avec psql.",
             do=upgrade_then_wait_for({**sync("robust"), **KEYCLOAK_ON,
                                       "postgresql-keycloak": {"database": {"password": KEYCLOAK_A}}},
                                      ["postgresql-keycloak"], name="helm upgrade: keycloak.enabled=true, password keycloak-A"),
             expect=Succeeds(), timeout=240),
        Step("Test 3 on keycloak-db-secret: kubectl apply keycloak-B, then helm upgrade (robust)",
             why="Le Secret de Keycloak change hors de Helm ; la synchronisation robuste l'applique au rôle "
                 "keycloak dans le pod postgresql-keycloak, sans ancien mot de passe ni suppression de PVC.",
             do=sequence("rotate keycloak-db-secret to keycloak-B, helm upgrade (robust), log in with keycloak-B",
                         rotate_secret("keycloak-db-secret", KEYCLOAK_B),
                         upgrade_then_wait_for({**sync("robust"), **KEYCLOAK_ON}, ["postgresql-keycloak"],
                                               name="helm upgrade (robust), wait for postgresql-keycloak"),
                         check_login("keycloak", "keycloak", KEYCLOAK_B)),
             expect=Succeeds(), timeout=300),
        Step("keycloak-A no longer logs in",
             why="Le rôle keycloak a réellement changé de mot de passe.",
             do=check_login("keycloak", "keycloak", KEYCLOAK_A),
             expect=Fails(log=KEYCLOAK_AUTH_FAILED), timeout=60, touches_data=False),
    ],
)
