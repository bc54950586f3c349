"""The rhdemo app as the lab reaches it: HTTP through a `kubectl port-forward` of its Service, one
request at a time or polled in a loop while something else happens (the seed's "the app answers
throughout" made measurable)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from lab.errors import LabError
from lab.kube import Kubectl
from lab.timeouts import DEFAULTS

API_PORT = 8080
MANAGEMENT_PORT = 9000


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str


class AppClient:
    """The app behind `service/<service>`."""

    def __init__(self, kubectl: Kubectl, service: str = "rhdemo-app") -> None:
        self.kubectl = kubectl
        self.target = f"service/{service}"

    def request(self, method: str, path: str, body: Any = None, *, port: int = API_PORT,
                timeout: float = DEFAULTS.http) -> HttpAnswer:
        """One request through a fresh port-forward; an HTTP error status is an answer, no connection a LabError."""
        data = json.dumps(body).encode() if body is not None else None
        with self.kubectl.port_forward(self.target, port) as local:
            request = urllib.request.Request(f"http://127.0.0.1:{local}{path}", data=data, method=method,
                                             headers={"Content-Type": "application/json"} if data else {})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    return HttpAnswer(response.status, response.read().decode(errors="replace"))
            except urllib.error.HTTPError as error:
                return HttpAnswer(error.code, error.read().decode(errors="replace"))
            except (urllib.error.URLError, OSError) as error:
                raise LabError(f"{method} {path} on port {port}: {error}") from None

    def poller(self, interval: float = 0.25) -> Poller:
        return Poller(self.kubectl, self.target, interval)


@dataclass
class PollCount:
    requests: int = 0
    failures: list[str] = field(default_factory=list)


class Poller:
    """`with app.poller() as count:` requests GET /api/employes and GET /actuator/health in a loop
    (through two port-forwards) until the block ends; `count` holds requests and failures."""

    def __init__(self, kubectl: Kubectl, target: str, interval: float) -> None:
        self.kubectl = kubectl
        self.target = target
        self.interval = interval
        self.count = PollCount()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: str | None = None

    def __enter__(self) -> PollCount:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error:
            raise LabError(self._error)
        return self.count

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        try:
            with self.kubectl.port_forward(self.target, API_PORT) as api, \
                    self.kubectl.port_forward(self.target, MANAGEMENT_PORT) as actuator:
                self._ready.set()
                urls = (f"http://127.0.0.1:{api}/api/employes?size=5", f"http://127.0.0.1:{actuator}/actuator/health")
                while not self._stop.is_set():
                    for url in urls:
                        self.count.requests += 1
                        try:
                            with urllib.request.urlopen(url, timeout=5) as response:
                                if response.status != 200:
                                    self.count.failures.append(f"{url.split('/', 3)[-1]}: HTTP {response.status}")
                        except (urllib.error.URLError, OSError) as error:
                            self.count.failures.append(f"{url.split('/', 3)[-1]}: {error}")
                    self._stop.wait(self.interval)
        except Exception as error:  # noqa: BLE001 -- the port-forward could not start: told to __enter__
            self._error = f"cannot poll the app: {error}"
            self._ready.set()
