"""The app's HTTP API, through a port-forward of service/rhdemo-app."""

from __future__ import annotations

from collections.abc import Iterable

from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.model import OUTPUT
from lab.scenario.ops import ClusterOps, operation

SAMPLE_EMPLOYES = (
    ("Marie", "Curie", "marie.curie@rhdemo.example", "Paris"),
    ("Louis", "Pasteur", "louis.pasteur@rhdemo.example", "Dole"),
    ("Ada", "Lovelace", "ada.lovelace@rhdemo.example", None),
)


def insert_employes(rows: Iterable[tuple[str, str, str, str | None]] = SAMPLE_EMPLOYES, *,
                    tag: str = "", name: str | None = None) -> Action:
    """POST rows to /api/employes through the app (the data the later steps must never lose).
    `tag` makes the mails unique when a scenario inserts twice."""
    employes = tuple(rows)

    def run(ops: ClusterOps) -> ActionResult:
        answers = []
        for prenom, nom, mail, adresse in employes:
            if tag:
                local, _, domain = mail.partition("@")
                mail = f"{local}.{tag}@{domain}"
            answer = ops.app.request("POST", "/api/employes",
                                     {"prenom": prenom, "nom": nom, "mail": mail, "adresse": adresse})
            answers.append(f"POST /api/employes {mail} -> HTTP {answer.status}")
            if answer.status != 201:
                return ActionResult.failure(f"POST /api/employes answered {answer.status}",
                                            Evidence(OUTPUT, "app API", "\n".join(answers) + "\n" + answer.body[:500]))
        return ActionResult.success(f"{len(employes)} rows inserted through the API",
                                    Evidence(OUTPUT, "app API", "\n".join(answers)))

    return operation(name or f"insert {len(employes)} employés through the API", run, (
        "kubectl -n {namespace} port-forward service/rhdemo-app 8080 &",
        "curl -s -X POST localhost:8080/api/employes -H 'Content-Type: application/json' "
        "-d '{\"prenom\":\"Marie\",\"nom\":\"Curie\",\"mail\":\"marie.curie@rhdemo.example\",\"adresse\":\"Paris\"}'",
    ))


def http_get(path: str, *, port: int = 8080, expect_status: int = 200, name: str | None = None) -> Action:
    """GET a path of the app (8080 API, 9000 actuator); ok when the status is `expect_status`."""

    def run(ops: ClusterOps) -> ActionResult:
        answer = ops.app.request("GET", path, port=port)
        evidence = Evidence(OUTPUT, f"GET :{port}{path}", f"HTTP {answer.status}\n{answer.body[:2000]}")
        if answer.status == expect_status:
            return ActionResult.success(f"HTTP {answer.status}", evidence)
        return ActionResult.failure(f"HTTP {answer.status}, expected {expect_status}", evidence)

    return operation(name or f"GET {path}", run, (f"kubectl -n {{namespace}} port-forward service/rhdemo-app {port} &",
                                                   f"curl -s localhost:{port}{path}"))
