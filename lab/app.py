"""The rhdemo app as the lab reaches it: HTTP through a `kubectl port-forward` of its Service, one
request at a time, or a steady stream of requests through the API server's service proxy while something
else happens (the seed's "the app
answers throughout" made measurable: `AvailabilityProbe`, figures in `lab.availability`)."""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lab.availability import (
    CLOSED, PROBED_PATHS, RATE, REFUSED, REQUEST_TIMEOUT, TIMEOUT, UNREACHABLE, Availability, Sample, http_status_kind,
    summarise,
)
from lab.errors import LabError
from lab.kube import Kubectl, ServiceProxy
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

    def probe(self, *, rate: float = RATE, paths: Sequence[str] = PROBED_PATHS,
              request_timeout: float = REQUEST_TIMEOUT) -> AvailabilityProbe:
        return AvailabilityProbe(self.kubectl, self.target, rate=rate, paths=paths, request_timeout=request_timeout)


# kubectl's port-forward and proxy are on this machine: never through an HTTP proxy the environment may name.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _port_of(path: str) -> int:
    return MANAGEMENT_PORT if path.startswith("/actuator") else API_PORT


def classify(error: BaseException) -> str:
    """The failure kind of a request that got no HTTP answer."""
    reason = error.reason if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException) else error
    if isinstance(reason, TimeoutError):
        return TIMEOUT
    if isinstance(reason, ConnectionRefusedError):
        return REFUSED
    return CLOSED  # reset, closed before an answer, an incomplete answer


class AvailabilityProbe:
    """`with app.probe() as probe:` requests each path `rate` times a second (GET, `request_timeout`
    each, a small thread pool so that a hanging request does not slow the others) through the API
    server's service proxy (ONE `kubectl proxy`) until the block ends; then `probe.figures()`.

    Every request goes to one of the Service's ready endpoints, picked anew each time, as the Service's
    clients see it: a rolling update that keeps a ready pod at every moment costs no request (a
    port-forward would pin one pod and end with it). No endpoint answers `HTTP 503`.

    The window opens once the first `kubectl proxy` is up (or has failed), so that kubectl's start-up is
    not counted as an outage. A proxy that exits is started again after a second (backing off to 5 s
    while that fails); each request meanwhile counts as `unreachable`."""

    REOPEN_AFTER = 1.0  # seconds before starting kubectl proxy again...
    REOPEN_MAX = 5.0    # ...doubling up to this while it keeps failing

    def __init__(self, kubectl: Kubectl, target: str, *, rate: float = RATE, paths: Sequence[str] = PROBED_PATHS,
                 request_timeout: float = REQUEST_TIMEOUT) -> None:
        self.kubectl = kubectl
        self.service = target.removeprefix("service/")
        self.rate = rate
        self.paths = tuple(paths)
        self.request_timeout = request_timeout
        self._proxy: ServiceProxy | None = None
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()       # no more requests
        self._closed = threading.Event()     # every request answered: the proxy may go
        self._first_attempt = threading.Event()
        self._opened = 0
        self._started = 0.0
        self._window = 0.0
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> AvailabilityProbe:
        proxier = threading.Thread(target=self._keep_proxy, name="probe-proxy", daemon=True)
        proxier.start()
        self._first_attempt.wait(DEFAULTS.port_forward + 5)
        # Enough workers for every request of `request_timeout` seconds to be in flight at once.
        self._pool = ThreadPoolExecutor(max_workers=max(4, math.ceil(self.rate * len(self.paths) * self.request_timeout) + 2),
                                        thread_name_prefix="probe")
        self._started = time.monotonic()
        ticker = threading.Thread(target=self._tick, name="probe-tick", daemon=True)
        ticker.start()
        self._threads = [proxier, ticker]
        return self

    def __exit__(self, *exc: object) -> None:
        self._window = time.monotonic() - self._started
        self._stop.set()
        self._threads[1].join(5)
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # in-flight requests end within request_timeout
        self._closed.set()
        self._threads[0].join(10)

    def figures(self) -> Availability:
        with self._lock:
            samples = [s for s in self._samples if s.at <= self._window]
        return summarise(samples, self._window, paths=self.paths, rate=self.rate, reconnects=max(0, self._opened - 1))

    # ---- threads ---------------------------------------------------------------------------------
    def _keep_proxy(self) -> None:
        pause = self.REOPEN_AFTER
        while not self._closed.is_set():
            try:
                with self.kubectl.service_proxy() as proxy:
                    self._opened += 1
                    self._proxy = proxy
                    self._first_attempt.set()
                    pause = self.REOPEN_AFTER
                    while proxy.alive and not self._closed.wait(0.2):
                        pass
            except (LabError, OSError):
                # kubectl cannot start (the API server is away): requests count as unreachable meanwhile
                pause = min(self.REOPEN_MAX, pause * 2)
            finally:
                self._proxy = None
                self._first_attempt.set()
            self._closed.wait(pause)

    def _tick(self) -> None:
        interval = 1.0 / self.rate
        next_at = 0.0
        while not self._stop.is_set():
            for path in self.paths:
                assert self._pool is not None
                self._pool.submit(self._request, path, next_at)
            next_at += interval
            late = time.monotonic() - self._started - next_at
            if late > interval:  # fell behind (a stalled machine): keep the rate, skip the backlog
                next_at += interval * math.floor(late / interval)
            self._stop.wait(max(0.0, next_at - (time.monotonic() - self._started)))

    def _request(self, path: str, at: float) -> None:
        proxy = self._proxy
        began = time.monotonic()
        if proxy is None:
            outcome = UNREACHABLE
        else:
            try:
                with _DIRECT.open(proxy.url(self.service, _port_of(path), path), timeout=self.request_timeout) as response:
                    response.read()
                    outcome = http_status_kind(response.status)
            except urllib.error.HTTPError as error:
                outcome = http_status_kind(error.code)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                outcome = classify(error)
        with self._lock:
            self._samples.append(Sample(path, at, time.monotonic() - began, outcome))
