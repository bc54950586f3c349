"""passwordSync.mode=alternating, database side: the password-sync script taken from the rendered chart,
run against a real PostgreSQL, with the files password-rotation writes (`logins`: what the app's pods
use) written by the test. A new password goes to the login nobody uses, the owner's objects stay the
owner's, and a login is retired only once no pod uses it (or at once with retirement=immediately)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.chart.chartlib import Helm, wait_for
from tests.integration.chart.test_password_sync_hardening import SPECIAL, Sidecar, _app_role, _leaks
from tests.integration.chart.test_password_sync_scripts import _can_login, _render_for, _sidecar, _write_secret_file
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration


class Rotation:
    """The shared directory of the database pod: `logins` (the test plays password-rotation) and `ready`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def pods_use(self, active: str, *in_use: str, at: float | None = None) -> None:
        text = f"active={active}\nin_use={' '.join(sorted(in_use))}\nat={int(time.time() if at is None else at)}\n"
        staging = self.directory / ".logins.tmp"
        staging.write_text(text)
        staging.replace(self.directory / "logins")

    def ready(self) -> str | None:
        path = self.directory / "ready"
        if not path.exists():
            return None
        fields = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        return fields.get("login")


@pytest.fixture
def setup(helm3: Helm, pg_server: PgServer, tmp_path: Path) -> Iterator[tuple[dict[str, str], Rotation, Path]]:
    db = _app_role(pg_server, "initial-A")
    yield db, Rotation(tmp_path / "rotation"), tmp_path / "secret" / "password"


def _start(helm: Helm, server: PgServer, db: dict[str, str], rotation: Rotation, password_file: Path,
           secret: str, **env: str) -> Sidecar:
    docs = _render_for(helm, "postgresql-rhdemo", db, "alternating")
    script, sidecar_env = _sidecar(docs, "postgresql-rhdemo", server, password_file, secret)
    sidecar_env.update({"ROTATION_DIR": str(rotation.directory), "REVERIFY_INTERVAL_SECONDS": "3600", **env})
    return Sidecar(script, sidecar_env)


def _role(server: PgServer, name: str) -> dict[str, object]:
    with server.admin() as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolpassword IS NOT NULL, "
            "coalesce((SELECT setconfig FROM pg_db_role_setting WHERE setrole = a.oid AND setdatabase = 0), '{}') "
            "FROM pg_authid a WHERE rolname = %s", (name,)).fetchone()
    assert row is not None, f"role {name} exists"
    return {"login": row[0], "superuser": row[1], "password": row[2], "settings": list(row[3])}


def test_a_rotation_goes_to_the_unused_login_and_the_old_one_is_retired_once_no_pod_uses_it(
        helm3: Helm, pg_server: PgServer, setup: tuple[dict[str, str], Rotation, Path]) -> None:
    db, rotation, password_file = setup
    owner, blue, green = db["user"], f"{db['user']}_blue", f"{db['user']}_green"
    rotation.pods_use(owner, owner)
    sidecar = _start(helm3, pg_server, db, rotation, password_file, "initial-A")
    try:
        # a fresh install: the owner is the first login, the two others exist, members acting as the owner
        assert sidecar.wait_for(f"ouvre une session en tant que {owner}"), sidecar.output
        assert rotation.ready() == owner
        for login in (blue, green):
            role = _role(pg_server, login)
            assert role == {"login": False, "superuser": False, "password": False, "settings": [f"role={owner}"]}

        # the Secret changes: the new password goes to blue, the owner keeps working for the pods on it
        _write_secret_file(password_file, SPECIAL)
        assert sidecar.wait_for(f"appliqué au rôle {blue}"), sidecar.output
        assert rotation.ready() == blue
        assert _can_login(pg_server, blue, SPECIAL, db["name"])
        assert _can_login(pg_server, owner, "initial-A", db["name"])
        assert not _can_login(pg_server, green, SPECIAL, db["name"])

        # password-rotation switched the Deployment; old and new pods run side by side: both log in
        rotation.pods_use(blue, owner, blue)
        time.sleep(3)
        assert _can_login(pg_server, owner, "initial-A", db["name"]), sidecar.output
        # what blue creates belongs to the owner (each session runs as SET ROLE owner)
        with psycopg.connect(pg_server.tcp_dsn(blue, SPECIAL, db["name"])) as conn:
            conn.execute("CREATE TABLE created_by_blue (id int)")
            assert conn.execute("SELECT current_user, session_user").fetchone() == (owner, blue)
        with psycopg.connect(pg_server.tcp_dsn(owner, "initial-A", db["name"])) as conn:
            owner_of = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'created_by_blue'").fetchone()
        assert owner_of == (owner,)

        # the rollout is over: the owner's login is retired, blue still works
        rotation.pods_use(blue, blue)
        assert sidecar.wait_for(f"rôle {owner} retiré"), sidecar.output
        assert not _can_login(pg_server, owner, "initial-A", db["name"])
        assert _can_login(pg_server, blue, SPECIAL, db["name"])
        assert _role(pg_server, owner)["password"] is False

        # the next rotation goes to green, then blue is retired once unused
        _write_secret_file(password_file, "third-C")
        assert sidecar.wait_for(f"appliqué au rôle {green}"), sidecar.output
        rotation.pods_use(green, green)
        assert sidecar.wait_for(f"rôle {blue} retiré"), sidecar.output
        assert not _can_login(pg_server, blue, SPECIAL, db["name"])
        assert _can_login(pg_server, green, "third-C", db["name"])
    finally:
        output = sidecar.stop()
    assert not _leaks(SPECIAL, output)


def test_a_login_pods_still_use_never_gets_the_new_password(
        helm3: Helm, pg_server: PgServer, setup: tuple[dict[str, str], Rotation, Path]) -> None:
    db, rotation, password_file = setup
    owner, blue = db["user"], f"{db['user']}_blue"
    rotation.pods_use(owner, owner, blue)  # a rollout to blue was undone: pods on both
    sidecar = _start(helm3, pg_server, db, rotation, password_file, "new-B")
    try:
        assert sidecar.wait_for(f"des pods utilisent encore le rôle {blue}"), sidecar.output
        time.sleep(2)
        assert rotation.ready() is None
        assert _can_login(pg_server, owner, "initial-A", db["name"])
        assert not _can_login(pg_server, blue, "new-B", db["name"])
        rotation.pods_use(owner, owner)
        assert sidecar.wait_for(f"appliqué au rôle {blue}"), sidecar.output
    finally:
        sidecar.stop()


def test_retirement_immediately_retires_the_previous_login_while_pods_use_it(
        helm3: Helm, pg_server: PgServer, setup: tuple[dict[str, str], Rotation, Path]) -> None:
    db, rotation, password_file = setup
    owner, blue = db["user"], f"{db['user']}_blue"
    rotation.pods_use(owner, owner)
    sidecar = _start(helm3, pg_server, db, rotation, password_file, "new-B", RETIREMENT="immediately")
    try:
        assert sidecar.wait_for(f"appliqué au rôle {blue}"), sidecar.output
        rotation.pods_use(blue, owner, blue)
        assert sidecar.wait_for(f"rôle {owner} retiré"), sidecar.output
        assert not _can_login(pg_server, owner, "initial-A", db["name"])
    finally:
        sidecar.stop()


def test_without_fresh_news_of_the_pods_nothing_is_switched_or_retired(
        helm3: Helm, pg_server: PgServer, setup: tuple[dict[str, str], Rotation, Path]) -> None:
    db, rotation, password_file = setup
    owner = db["user"]
    rotation.pods_use(owner, at=time.time() - 3600)  # password-rotation stopped an hour ago
    sidecar = _start(helm3, pg_server, db, rotation, password_file, "new-B")
    try:
        assert sidecar.wait_for("rôle utilisé par l'app inconnu"), sidecar.output
        assert not wait_for(lambda: rotation.ready() is not None, 3)
        assert _can_login(pg_server, owner, "initial-A", db["name"])
        assert "retiré" not in sidecar.output
    finally:
        sidecar.stop()
