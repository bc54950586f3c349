"""A stand-in for the Kubernetes API server that answers only what `helm install --dry-run` and
`helm template --dry-run=server` ask: version, API discovery, and reads of Secrets and Deployments (the
chart's `lookup`). It lets the tests check, without a cluster, what the chart does with a live Secret or
the login role a live Deployment uses (passwordSync.mode=alternating)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import yaml


def _resources(group_version: str, kinds: dict[str, str]) -> dict[str, Any]:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [{"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
                           "verbs": ["create", "get", "list"]} for kind, plural in kinds.items()]}


_DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "34", "gitVersion": "v1.34.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}}
        for g in ("apps", "batch", "rbac.authorization.k8s.io")]},
    "/api/v1": _resources("v1", {"Secret": "secrets", "ConfigMap": "configmaps", "Service": "services",
                                 "Pod": "pods", "ServiceAccount": "serviceaccounts"}),
    "/apis/apps/v1": _resources("apps/v1", {"Deployment": "deployments", "StatefulSet": "statefulsets"}),
    "/apis/batch/v1": _resources("batch/v1", {"Job": "jobs"}),
    "/apis/rbac.authorization.k8s.io/v1": _resources("rbac.authorization.k8s.io/v1",
                                                     {"Role": "roles", "RoleBinding": "rolebindings"}),
}


def send_json(handler: http.server.BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    """Answer a request as the API server does: a JSON object with its length."""
    payload = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


class FakeApiServer:
    """Usage: with FakeApiServer(secrets={("ns", "name"): {"password": "B"}}) as api: api.kubeconfig(dir)"""

    def __init__(self, secrets: dict[tuple[str, str], dict[str, str]] | None = None,
                 namespaces: tuple[str, ...] = (),
                 deployments: dict[tuple[str, str], dict[str, str]] | None = None) -> None:
        """`namespaces`: namespaces that exist, i.e. serve the kube-root-ca.crt ConfigMap Kubernetes
        publishes in each (the chart reads it to know it sees a cluster). `deployments`: live Deployments,
        by (namespace, name), as their pod template's annotations."""
        self.secrets = secrets or {}
        self.deployments = deployments or {}
        self.namespaces = namespaces
        self.requests: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                fake.requests.append(path)
                send_json(self, *fake.answer(path))

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if path in _DISCOVERY:
            return 200, _DISCOVERY[path]
        parts = path.strip("/").split("/")
        if (parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 6 and parts[4] == "configmaps"
                and parts[5] == "kube-root-ca.crt" and parts[3] in self.namespaces):
            return 200, {"kind": "ConfigMap", "apiVersion": "v1",
                         "metadata": {"name": "kube-root-ca.crt", "namespace": parts[3]},
                         "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}}
        # /api/v1/namespaces/<ns>/secrets[/<name>]
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) >= 5 and parts[4] == "secrets":
            namespace = parts[3]
            if len(parts) == 5:  # a list (helm's release storage): no release yet
                return 200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": []}
            data = self.secrets.get((namespace, parts[5]))
            if data is not None:
                return 200, {"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
                             # Owned by the release (created by helm install, data changed by kubectl
                             # apply, which leaves helm's labels and annotations in place).
                             # uid: the object's identity; resourceVersion changes when the data does.
                             "metadata": {"name": parts[5], "namespace": namespace,
                                          "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{parts[5]}")),
                                          "resourceVersion": str(int(hashlib.sha256(
                                              json.dumps(data, sort_keys=True).encode()).hexdigest()[:8], 16)),
                                          "labels": {"app.kubernetes.io/managed-by": "Helm"},
                                          "annotations": {"meta.helm.sh/release-name": "rhdemo",
                                                          "meta.helm.sh/release-namespace": namespace}},
                             "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
        # /apis/apps/v1/namespaces/<ns>/deployments/<name>
        if parts[:4] == ["apis", "apps", "v1", "namespaces"] and len(parts) == 7 and parts[5] == "deployments":
            annotations = self.deployments.get((parts[4], parts[6]))
            if annotations is not None:
                return 200, {"kind": "Deployment", "apiVersion": "apps/v1",
                             "metadata": {"name": parts[6], "namespace": parts[4],  # the release's own
                                          "labels": {"app.kubernetes.io/managed-by": "Helm"},
                                          "annotations": {"meta.helm.sh/release-name": "rhdemo",
                                                          "meta.helm.sh/release-namespace": parts[4]}},
                             "spec": {"template": {"metadata": {"annotations": annotations}}}}
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                     "code": 404, "message": f"{path} not found"}

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self._server.server_port}"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "users": [{"name": "fake", "user": {}}]}))
        return path

    def __enter__(self) -> FakeApiServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
