# password-rotation (passwordSync.mode=alternating), the Kubernetes API side: runs next to the
# password-sync sidecar of the PostgreSQL pod, with the app image (python3, standard library only,
# python >= 3.9).
# Every $CHECK_INTERVAL_SECONDS it reads deployment/$TARGET_DEPLOYMENT and its pods, and writes
# $ROTATION_DIR/logins for the database side:
#   active=<login the pod template asks for>        (annotation $LOGIN_ANNOTATION, else $DEFAULT_LOGIN)
#   in_use=<logins of the pods, sorted, space-separated>   (terminating pods included: they may still
#                                                          hold connections; Succeeded/Failed excluded)
#   at=<epoch seconds>
# When the API does not answer, or the Deployment does not exist, the file is left as it is: its `at`
# goes stale, which the database side reads as "unknown".
# When the database side has prepared another login with the Secret's current password (file
# $ROTATION_DIR/ready: login=<name>, digest=<hex>), it sets that login in the pod template's
# annotation (a merge patch of that one annotation): the app rolls out onto it, pod by pod.
# The service account token is re-read on every request (projected tokens rotate) and never printed.
# No dollar sign followed by a parenthesis or another dollar: Kubernetes expands those in a
# container's command, should the script be given there.
from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

PREFIX = "[password-rotation]"
FIELD_MANAGER = "rhdemo-password-rotation"
REQUEST_TIMEOUT_SECONDS = 10
PAGE_SIZE = 500
TEMP_PREFIX = ".logins."
MAX_LOGIN_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1


def log(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


class ConfigError(Exception):
    pass


class Stopping(BaseException):
    """Raised by the SIGTERM/SIGINT handler: ends a sleep or a request at once (BaseException, so
    no `except Exception` on the way swallows it)."""


class ApiError(Exception):
    """A request that did not give a usable answer. `kind` groups failures so that an outage is
    logged once, whatever its messages."""

    def __init__(self, kind: str, detail: str, status: int = 0) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class Config:
    deployment: str
    namespace: str
    rotation_dir: str
    default_login: str
    annotation: str
    interval: float
    api_host: str
    api_port: int
    serviceaccount_dir: str

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Config:
        missing = [name for name in ("TARGET_DEPLOYMENT", "POD_NAMESPACE", "ROTATION_DIR", "DEFAULT_LOGIN",
                                     "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
                   if not env.get(name, "").strip()]
        if missing:
            raise ConfigError(f"variable(s) d'environnement manquante(s) : {', '.join(missing)}")
        try:
            interval = float(env.get("CHECK_INTERVAL_SECONDS", "5"))
        except ValueError:
            interval = 0.0
        if not interval > 0 or interval == float("inf"):
            raise ConfigError(f"CHECK_INTERVAL_SECONDS invalide : {env.get('CHECK_INTERVAL_SECONDS')!r} "
                              "(nombre de secondes > 0 attendu)")
        port = env["KUBERNETES_SERVICE_PORT"].strip()
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"KUBERNETES_SERVICE_PORT invalide : {port!r}")
        default_login = env["DEFAULT_LOGIN"].strip()
        problem = login_problem(default_login)
        if problem:
            raise ConfigError(f"DEFAULT_LOGIN invalide : {problem}")
        rotation_dir = env["ROTATION_DIR"]
        if not os.path.isdir(rotation_dir):
            raise ConfigError(f"ROTATION_DIR {rotation_dir} n'est pas un répertoire")
        return cls(deployment=env["TARGET_DEPLOYMENT"].strip(), namespace=env["POD_NAMESPACE"].strip(),
                   rotation_dir=rotation_dir, default_login=default_login,
                   annotation=env.get("LOGIN_ANNOTATION", "").strip() or "rhdemo.io/db-login",
                   interval=interval, api_host=env["KUBERNETES_SERVICE_HOST"].strip().strip("[]"),
                   api_port=int(port),
                   serviceaccount_dir=env.get("SERVICEACCOUNT_DIR", "").strip()
                   or "/var/run/secrets/kubernetes.io/serviceaccount")


def login_problem(login: str) -> str:
    """Why `login` cannot be written in the logins file (space-separated, one line), "" when it can."""
    if not login:
        return "nom de rôle vide"
    if any(c.isspace() or not c.isprintable() for c in login):
        return f"nom de rôle {login!r} avec un espace ou un caractère de contrôle"
    if len(login.encode()) > MAX_LOGIN_BYTES:
        return f"nom de rôle {login!r} de plus de {MAX_LOGIN_BYTES} octets"
    return ""


# --- Pure decisions -------------------------------------------------------------------------------

def label_selector(deployment: dict[str, Any]) -> str:
    """The Deployment's spec.selector as a labelSelector query (matchLabels and matchExpressions)."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    terms = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif operator == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif operator == "Exists":
            terms.append(f"{key}")
        elif operator == "DoesNotExist":
            terms.append(f"!{key}")
        else:
            raise ApiError("invalid", f"opérateur de sélecteur inconnu {operator!r}")
    if not terms:
        # An empty selector would select every pod of the namespace.
        raise ApiError("invalid", "spec.selector vide")
    return ",".join(terms)


def login_of(obj_metadata: dict[str, Any] | None, annotation: str, default_login: str) -> str:
    annotations = (obj_metadata or {}).get("annotations") or {}
    value = annotations.get(annotation)
    return value if isinstance(value, str) and value else default_login


def active_login(deployment: dict[str, Any], annotation: str, default_login: str) -> str:
    template = (deployment.get("spec") or {}).get("template") or {}
    return login_of(template.get("metadata"), annotation, default_login)


def logins_in_use(pods: list[dict[str, Any]], annotation: str, default_login: str) -> list[str]:
    """Logins of the pods that may hold connections: every pod not ended (Succeeded/Failed), the
    terminating ones included."""
    return sorted({login_of(pod.get("metadata"), annotation, default_login) for pod in pods
                   if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")})


def render_logins(active: str, in_use: list[str], at: int) -> str:
    return f"active={active}\nin_use={' '.join(in_use)}\nat={at}\n"


def parse_ready(text: str) -> tuple[str, str]:
    """(login, "") from the ready file, or ("", why it is ignored). Both lines are required: a file
    without its digest is incomplete."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    login, digest = fields.get("login", ""), fields.get("digest", "")
    if not login or not digest:
        return "", "lignes login= et digest= attendues"
    if any(c not in "0123456789abcdefABCDEF" for c in digest):
        return "", "digest non hexadécimal"
    problem = login_problem(login)
    if problem:
        return "", problem
    return login, ""


def merge_patch(annotation: str, login: str) -> dict[str, Any]:
    return {"spec": {"template": {"metadata": {"annotations": {annotation: login}}}}}


# --- The API server -------------------------------------------------------------------------------

class KubeApi:
    def __init__(self, config: Config) -> None:
        self.config = config

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=os.path.join(self.config.serviceaccount_dir, "ca.crt"))
        # The trust anchor is the cluster's own CA, mounted by Kubernetes. Python >= 3.13's RFC 5280
        # strictness rejects some distributions' CAs (basicConstraints not critical) without adding
        # trust here; chain and host name are still verified.
        context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
        return context

    def request(self, method: str, path: str, query: dict[str, str] | None = None,
                body: dict[str, Any] | None = None, content_type: str = "") -> dict[str, Any]:
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        try:
            with open(os.path.join(self.config.serviceaccount_dir, "token"), encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as error:
            raise ApiError("token", f"jeton du compte de service illisible ({error.strerror})") from None
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "User-Agent": FIELD_MANAGER}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            # http.client, not urllib: no proxy from the environment, no redirect carrying the token.
            connection = http.client.HTTPSConnection(self.config.api_host, self.config.api_port,
                                                     context=self._context(), timeout=REQUEST_TIMEOUT_SECONDS)
            try:
                connection.request(method, url, body=payload, headers=headers)
                response = connection.getresponse()
                status, raw = response.status, response.read()
            finally:
                connection.close()
        except (OSError, http.client.HTTPException) as error:
            raise ApiError("unreachable", f"API Kubernetes injoignable : {error}") from None
        if status >= 400:
            message = ""
            try:
                message = str(json.loads(raw).get("message", ""))
            except (ValueError, AttributeError):
                pass
            kind = {404: "not-found", 401: "refused", 403: "refused"}.get(status, "http")
            raise ApiError(kind, f"HTTP {status}" + (f" : {message}" if message else ""), status)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ApiError("invalid", f"réponse non JSON à {method} {path}") from None
        if not isinstance(answer, dict):
            raise ApiError("invalid", f"réponse inattendue à {method} {path}")
        return answer

    def deployment_path(self) -> str:
        return (f"/apis/apps/v1/namespaces/{urllib.parse.quote(self.config.namespace, safe='')}"
                f"/deployments/{urllib.parse.quote(self.config.deployment, safe='')}")

    def deployment(self) -> dict[str, Any]:
        return self.request("GET", self.deployment_path())

    def pods(self, selector: str) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{urllib.parse.quote(self.config.namespace, safe='')}/pods"
        pods: list[dict[str, Any]] = []
        query = {"labelSelector": selector, "limit": str(PAGE_SIZE)}
        while True:
            page = self.request("GET", path, query)
            pods.extend(item for item in page.get("items") or [] if isinstance(item, dict))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return pods
            query = {**query, "continue": token}

    def set_login(self, login: str) -> None:
        self.request("PATCH", self.deployment_path(), {"fieldManager": FIELD_MANAGER},
                     merge_patch(self.config.annotation, login), "application/merge-patch+json")


# --- The loop -------------------------------------------------------------------------------------

class Rotation:
    def __init__(self, config: Config, api: KubeApi) -> None:
        self.config = config
        self.api = api
        self.logins_path = os.path.join(config.rotation_dir, "logins")
        self.ready_path = os.path.join(config.rotation_dir, "ready")
        self.target = f"deployment/{config.deployment}"
        self.outage = ""        # kind of the current read failure (logged once per outage)
        self.write_failure = ""
        self.ready_refusal = ""
        self.patch_failure = ""
        self.shown: tuple[str, list[str]] | None = None  # active and in_use last logged

    def remove_stale_temp_files(self) -> None:
        """Temp files left by a process killed between writing and renaming."""
        for name in os.listdir(self.config.rotation_dir):
            if name.startswith(TEMP_PREFIX):
                try:
                    os.unlink(os.path.join(self.config.rotation_dir, name))
                except OSError:
                    pass

    def write_logins(self, active: str, in_use: list[str]) -> None:
        descriptor, temp_path = tempfile.mkstemp(dir=self.config.rotation_dir, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(render_logins(active, in_use, int(time.time())))
                # The database side runs as another user: it must be able to read the file.
                os.fchmod(handle.fileno(), 0o644)
            os.replace(temp_path, self.logins_path)
            temp_path = ""
        finally:
            if temp_path:
                os.unlink(temp_path)

    def publish(self, active: str, in_use: list[str]) -> None:
        try:
            self.write_logins(active, in_use)
        except OSError as error:
            if not self.write_failure:
                log(f"⚠️  écriture de {self.logins_path} impossible ({error}), nouvelle tentative toutes les "
                    f"{self.config.interval:g} s")
            self.write_failure = str(error)
            return
        if self.write_failure:
            log(f"✅ {self.logins_path} écrit à nouveau")
        self.write_failure = ""
        if self.shown != (active, in_use):
            log(f"👥 rôle actif {active} ; rôles des pods : {' '.join(in_use) if in_use else '(aucun pod)'}")
            self.shown = (active, in_use)

    def read_state(self) -> tuple[str, list[str]]:
        deployment = self.api.deployment()
        active = active_login(deployment, self.config.annotation, self.config.default_login)
        pods = self.api.pods(label_selector(deployment))
        in_use = logins_in_use(pods, self.config.annotation, self.config.default_login)
        for login in [active, *in_use]:
            problem = login_problem(login)
            if problem:
                raise ApiError("invalid", f"annotation {self.config.annotation} : {problem}")
        return active, in_use

    def read_ready(self) -> str:
        """The login the database side has prepared, "" when none (or when its file is not usable)."""
        try:
            with open(self.ready_path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            self.ready_refusal = ""
            return ""
        except (OSError, UnicodeDecodeError) as error:
            refusal = f"illisible ({error})"
        else:
            login, refusal = parse_ready(text)
            if login:
                self.ready_refusal = ""
                return login
        if refusal != self.ready_refusal:
            log(f"⚠️  {self.ready_path} ignoré : {refusal}")
        self.ready_refusal = refusal
        return ""

    def check(self) -> None:
        try:
            active, in_use = self.read_state()
        except ApiError as error:
            if error.kind != self.outage:
                if error.kind == "not-found":
                    log(f"⚠️  {self.target} introuvable dans le namespace {self.config.namespace} : "
                        f"{self.logins_path} non mis à jour, nouvelle tentative toutes les {self.config.interval:g} s")
                else:
                    log(f"⚠️  lecture de {self.target} impossible ({error.detail}) : {self.logins_path} non mis "
                        f"à jour, nouvelle tentative toutes les {self.config.interval:g} s")
            self.outage = error.kind
            return
        if self.outage:
            log(f"✅ {self.target} lu à nouveau")
        self.outage = ""
        self.publish(active, in_use)

        ready = self.read_ready()
        if not ready or ready == active:
            self.patch_failure = ""
            return
        try:
            self.api.set_login(ready)
        except ApiError as error:
            failure = f"{ready}:{error.kind}"
            if failure != self.patch_failure:
                log(f"❌ {self.target} : échec de la bascule sur le rôle {ready} ({error.detail}), "
                    f"nouvelle tentative dans {self.config.interval:g} s")
            self.patch_failure = failure
            return
        self.patch_failure = ""
        log(f"🔁 {self.target} : bascule sur le rôle {ready} (déploiement progressif)")
        self.publish(ready, in_use)

    def run(self) -> None:
        self.remove_stale_temp_files()
        log(f"🔎 suivi du rôle de {self.target} (namespace {self.config.namespace}, annotation "
            f"{self.config.annotation}, par défaut {self.config.default_login}) : {self.logins_path} "
            f"toutes les {self.config.interval:g} s")
        while True:
            self.check()
            time.sleep(self.config.interval)


def stop(signum: int, frame: object) -> None:
    raise Stopping()


def main() -> int:
    try:
        config = Config.from_env(dict(os.environ))
    except ConfigError as error:
        print(f"{PREFIX} ❌ {error}", file=sys.stderr, flush=True)
        return 2
    # PID 1 of its container: without handlers SIGTERM is ignored and the pod waits its whole grace period.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        Rotation(config, KubeApi(config)).run()
    except Stopping:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
