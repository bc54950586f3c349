"""Problème 1 — la rotation sans interruption (Solution 1, Test 3, under traffic).

rotate-password shows the window the robust sync leaves: the role's password changes while the app
still holds the old one, and its next reconnect fails. Rotating with no failed request needs two
credentials valid during the switch — the alternating-users strategy cloud secret managers document:
`passwordSync.mode=alternating` gives each new password to the login role the app does NOT use
(`rhdemo_blue` / `rhdemo_green`, members of `rhdemo`, which keeps owning the data), rolls the app onto it,
and retires the previous login once no pod uses it. Every rotation path is measured at 5 requests a
second on the API and on `/actuator/health/db`: through the values, `kubectl apply` + `helm upgrade`, and
`kubectl apply` alone (External Secrets, Vault, a CronJob) — zero failed requests, no database restart,
and the old credentials refused at the end.
"""

from __future__ import annotations

from typing import Any

from lab.scenario import AllOf, Available, Healthy, Scenario, Step, Succeeds
from scenarios._operations.app import insert_employes
from scenarios._operations.checks import evidence_contains
from scenarios._operations.compose import sequence
from scenarios._operations.db import check_login, rotate_secret, sql
from scenarios._operations.helm import install, upgrade, upgrade_then_wait_for
from scenarios._operations.rotation import all_refused, no_password_in_sight, wait_for_prepared, wait_for_switch
from scenarios._operations.values import Password

A = Password("A")
B = Password("B")
C = Password("C")
D = Password("D", special=True)
KEYCLOAK_A = Password("keycloak-A")
KEYCLOAK_B = Password("keycloak-B", special=True)

APP = "rhdemo-app"
ALTERNATING = {"passwordSync": {"mode": "alternating"}}
REFUSED = "password authentication failed"


def with_password(values: dict[str, Any], password: Password) -> dict[str, Any]:
    return {**values, "postgresql-rhdemo": {"database": {"password": password}}}


KEYCLOAK_ON = {"keycloak": {"enabled": True,
                            # Keycloak itself is not waited for (minutes on 2 cores): keep it from starving the rest.
                            "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "500m"}}},
               "postgresql-keycloak": {"database": {"password": KEYCLOAK_A}}}

SCENARIO = Scenario(
    id="rotate-password-live",
    title="Problème 1 — la rotation du mot de passe sans interruption (utilisateurs alternés)",
    summary="Rotate the DB password under traffic with passwordSync.mode=alternating: values, kubectl apply + "
            "helm upgrade, kubectl apply alone — zero failed requests, no database restart, old credentials refused",
    seed=["Problème 1", "Solution 1", "Test 3"],
    steps=[
        Step("Install with password A, passwordSync.mode=alternating",
             why="Le rôle rhdemo possède la base et sert de premier identifiant ; password-sync crée rhdemo_blue et "
                 "rhdemo_green (membres de rhdemo, sans connexion tant qu'ils n'ont pas de mot de passe).",
             do=install(with_password(ALTERNATING, A), name="helm install with password A, passwordSync.mode=alternating"),
             expect=Healthy(APP), timeout=300),
        Step("Write employés through the API",
             why="Des données réelles : aucune rotation ne doit en perdre une seule.",
             do=insert_employes(), expect=Succeeds(), timeout=60),
        Step("Rotation through values: postgresql-rhdemo.database.password=B, under traffic",
             why="Helm écrit B dans rhdemo-db-secret ; password-sync donne B à rhdemo_blue (que l'app n'utilise pas), "
                 "password-rotation bascule le Deployment sur rhdemo_blue (déploiement progressif), puis rhdemo est "
                 "retiré quand plus aucun pod ne l'utilise. L'app répond pendant toute la rotation.",
             do=sequence("helm upgrade with password B, then wait for the switch",
                         upgrade(with_password(ALTERNATING, B), wait=False, name="helm upgrade with password B"),
                         wait_for_switch("rhdemo", APP, B)),
             expect=AllOf(Succeeds(), Available()), timeout=420),
        Step("Test 3, alternating: kubectl apply C, then helm upgrade, under traffic",
             why="« kubectl create secret ... | kubectl apply -f - » puis « helm upgrade » : le chart relit le Secret "
                 "(lookup) et le rôle utilisé par l'app (annotation du Deployment) ; C va à rhdemo_green.",
             do=sequence("rotate rhdemo-db-secret to C with kubectl apply, helm upgrade, wait for the switch",
                         rotate_secret("rhdemo-db-secret", C),
                         upgrade(ALTERNATING, wait=False, name="helm upgrade (alternating)"),
                         wait_for_switch("rhdemo", APP, C)),
             expect=AllOf(Succeeds(), Available()), timeout=420),
        Step("Test 3, alternating, kubectl apply alone: the Secret rotated to D, no helm upgrade, under traffic",
             why="La rotation hors de Helm (External Secrets, Vault, une CronJob) : personne ne lance helm upgrade. "
                 "password-sync voit le fichier du Secret changer (synchronisation du kubelet, une minute environ), "
                 "donne D à rhdemo_blue, l'app bascule, rhdemo_green est retiré. D contient ' \" \\ $ ` espace et "
                 "des caractères non ASCII.",
             do=sequence("rotate rhdemo-db-secret to D with kubectl apply alone, wait for the switch",
                         rotate_secret("rhdemo-db-secret", D),
                         wait_for_switch("rhdemo", APP, D)),
             expect=AllOf(Succeeds(), Available()), timeout=420),
        Step("The old credentials are refused",
             why="La rotation est réelle : chaque ancien couple (rôle, mot de passe) est refusé par le serveur, "
                 "comme D sur un rôle retiré.",
             do=all_refused("rhdemo", [("rhdemo", A), ("rhdemo_blue", B), ("rhdemo_green", C), ("rhdemo_green", D)]),
            expect=AllOf(Succeeds(), evidence_contains(REFUSED)), timeout=90, touches_data=False),
        Step("D logs in as rhdemo_blue and the rows are intact",
             why="Le seul identifiant valide : rhdemo_blue avec D ; les tables appartiennent toujours à rhdemo.",
             do=sequence("log in with D, read the rows and their owner",
                         check_login("rhdemo", "rhdemo_blue", D),
                         sql("rhdemo", "SELECT tableowner || ' owns ' || tablename || ': ' || "
                                       "(SELECT count(*) FROM employes) || ' rows' FROM pg_tables WHERE tablename = 'employes'"),
                         sql("rhdemo", "SELECT string_agg(nom, ', ' ORDER BY nom) FROM employes")),
             expect=evidence_contains("rhdemo owns employes", "Curie", "Pasteur", "Lovelace"), timeout=90,
             touches_data=False),
        Step("No password in manifests, ConfigMaps or logs",
             why="Ni les journaux de password-sync, password-rotation, de l'app ou de PostgreSQL, ni les annotations, "
                 "variables d'environnement ou ConfigMaps ne contiennent l'un des mots de passe utilisés (D compris, "
                 "avec ses caractères spéciaux).",
             do=no_password_in_sight(A, B, C, D), expect=Succeeds(), timeout=120, touches_data=False),
        Step("Keycloak's database: enable Keycloak with password keycloak-A (alternating)",
             why="Même mécanisme pour postgresql-keycloak : keycloak possède la base, keycloak_blue et keycloak_green "
                 "alternent. Keycloak met plusieurs minutes à démarrer sur 2 cœurs : on attend sa base.",
             do=upgrade_then_wait_for({**ALTERNATING, **KEYCLOAK_ON}, ["postgresql-keycloak"],
                                      name="helm upgrade: keycloak.enabled=true, password keycloak-A"),
             expect=Succeeds(), timeout=300, probe=False),
        Step("keycloak-db-secret rotated to keycloak-B with kubectl apply alone",
             why="password-sync donne keycloak-B à keycloak_blue, password-rotation bascule le Deployment keycloak "
                 "dessus ; keycloak garde keycloak-A tant qu'un pod Keycloak l'utilise.",
             do=sequence("rotate keycloak-db-secret to keycloak-B, wait until keycloak_blue has it, "
                         "keycloak still logs in with keycloak-A",
                         rotate_secret("keycloak-db-secret", KEYCLOAK_B),
                         wait_for_prepared("keycloak", "keycloak", KEYCLOAK_B),
                         check_login("keycloak", "keycloak", KEYCLOAK_A)),
             expect=Succeeds(), timeout=300, probe=False),
    ],
)
