"""Behaviour of the registry-free postgres image against the official image's contract.

Runs the real image in Docker (no cluster). Every assertion is something a scenario or a user
observes: log lines, exit codes, what the init scripts left in the database, who may log in how.
The chart runs this image with runAsUser 70 / fsGroup 70, hence `--user 70:70` by default here.
"""

from __future__ import annotations

import gzip
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.images.dockerctl import (
    Resources,
    container_ip,
    docker,
    logs,
    pinned_versions,
    require_image,
    wait_for_exit,
    wait_for_log,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

IMAGE = pinned_versions()["LOCAL_POSTGRES_IMAGE"]
ENTRYPOINT = "/usr/local/bin/docker-entrypoint.sh"
INIT_COMPLETE = "PostgreSQL init process complete; ready for start up."
SKIPPING = "PostgreSQL Database directory appears to contain a database; Skipping initialization"
READY = "database system is ready to accept connections"
USER, PASSWORD, DATABASE = "rhdemo", "first-Passw0rd", "rhdemodb"
AS_CHART = ["--user", "70:70"]


@pytest.fixture(scope="module", autouse=True)
def _image_built() -> None:
    require_image(IMAGE)


@pytest.fixture
def resources() -> Iterator[Resources]:
    created = Resources()
    yield created
    created.cleanup()


@pytest.fixture
def init_dir(tmp_path: Path) -> Path:
    """A host directory mounted at /docker-entrypoint-initdb.d, readable by uid 70."""
    directory = tmp_path / "initdb.d"
    directory.mkdir()
    for path in (tmp_path, directory):
        path.chmod(0o755)
    return directory


def write(directory: Path, name: str, content: str | bytes, mode: int = 0o644) -> None:
    path = directory / name
    if isinstance(content, str):
        path.write_text(textwrap.dedent(content))
    else:
        path.write_bytes(content)
    path.chmod(mode)


def start(resources: Resources, base: str, volume: str, init_dir: Path | None = None,
          password: str = PASSWORD, options: list[str] | None = None,
          env: dict[str, str] | None = None) -> str:
    environment = {"POSTGRES_USER": USER, "POSTGRES_PASSWORD": password, "POSTGRES_DB": DATABASE}
    environment.update(env or {})
    run_options = [*(options if options is not None else AS_CHART),
                   "-v", f"{volume}:/var/lib/postgresql/data"]
    if init_dir is not None:
        run_options += ["-v", f"{init_dir}:/docker-entrypoint-initdb.d:ro"]
    for key, value in environment.items():
        run_options += ["-e", f"{key}={value}"] if value is not None else []
    return resources.run_detached(base, IMAGE, options=run_options)


def wait_ready(container: str) -> str:
    """The container's own readiness loop, as the chart's hooks write it."""
    docker("exec", container, "sh", "-c",
           "i=0; until pg_isready -q; do i=$((i+1)); [ $i -lt 150 ] || exit 1; sleep 0.2; done",
           timeout=60)
    return logs(container)


def socket_sql(container: str, sql: str, user: str = USER, database: str = DATABASE) -> str:
    """psql through the Unix socket inside the container, with no password anywhere."""
    result = docker("exec", "-e", "PGPASSWORD=", container, "psql", "-v", "ON_ERROR_STOP=1",
                    "-U", user, "-d", database, "-At", "-c", sql, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def tcp_connect(container: str, password: str | None, user: str = USER) -> psycopg.Connection:
    params = {"host": container_ip(container), "port": 5432, "user": user, "dbname": DATABASE,
              "connect_timeout": 5}
    if password is not None:
        params["password"] = password
    return psycopg.connect(**params)


def stop(container: str) -> None:
    docker("stop", "-t", "30", container)


def running_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{ENTRYPOINT}: ")]


def test_first_start_initialises_and_runs_init_scripts_once_in_sorted_order(
        resources: Resources, init_dir: Path) -> None:
    write(init_dir, "03_from_shell.sh", """\
        psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \\
          -c "INSERT INTO init_log (source) VALUES ('sh sourced')"
        """)
    write(init_dir, "04_executable.sh", """\
        #!/bin/sh
        set -e
        psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \\
          -c "INSERT INTO init_log (source) VALUES ('sh executed')"
        """, mode=0o755)
    write(init_dir, "02_compressed.sql.gz", gzip.compress(b"INSERT INTO init_log (source) VALUES ('sql.gz');\n"))
    write(init_dir, "01_schema.sql", "CREATE TABLE init_log (n serial PRIMARY KEY, source text NOT NULL);\n")
    write(init_dir, "05_notes.txt", "not a script\n")

    container = start(resources, "first", resources.volume("data"), init_dir)
    output = wait_for_log(container, INIT_COMPLETE)
    wait_ready(container)

    assert running_lines(logs(container)) == [
        f"{ENTRYPOINT}: running /docker-entrypoint-initdb.d/01_schema.sql",
        f"{ENTRYPOINT}: running /docker-entrypoint-initdb.d/02_compressed.sql.gz",
        f"{ENTRYPOINT}: sourcing /docker-entrypoint-initdb.d/03_from_shell.sh",
        f"{ENTRYPOINT}: running /docker-entrypoint-initdb.d/04_executable.sh",
        f"{ENTRYPOINT}: ignoring /docker-entrypoint-initdb.d/05_notes.txt",
    ]
    assert SKIPPING not in output
    assert socket_sql(container, "SELECT string_agg(source, ',' ORDER BY n) FROM init_log") == \
        "sql.gz,sh sourced,sh executed"
    # POSTGRES_USER is the superuser and owns nothing special; POSTGRES_DB exists.
    assert socket_sql(container, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t"
    assert socket_sql(container, "SELECT current_database()") == DATABASE
    # The server really runs as uid 70 and owns its data directory.
    assert "Uid:\t70\t70\t70\t70" in docker("exec", container, "cat", "/proc/1/status").stdout
    assert docker("exec", container, "stat", "-c", "%u:%g %a", "/var/lib/postgresql/data").stdout.strip() == \
        "70:70 700"


def test_second_start_skips_initialisation_and_ignores_new_password_and_scripts(
        resources: Resources, init_dir: Path) -> None:
    write(init_dir, "01_schema.sql", "CREATE TABLE employes (id serial PRIMARY KEY, nom text);\n")
    volume = resources.volume("data")
    first = start(resources, "first", volume, init_dir)
    wait_for_log(first, INIT_COMPLETE)
    wait_ready(first)
    stop(first)

    # The Secret changed and the init ConfigMap gained a script: neither may have any effect.
    write(init_dir, "01_schema.sql", "CREATE TABLE changed_schema (id int);\n")
    write(init_dir, "02_new.sql", "CREATE TABLE added_later (id int);\n")
    second = start(resources, "second", volume, init_dir, password="second-Passw0rd")
    output = wait_for_log(second, READY)
    wait_ready(second)

    assert SKIPPING in output
    assert INIT_COMPLETE not in output
    assert running_lines(output) == []
    assert socket_sql(second, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                              "WHERE schemaname = 'public'") == "employes"
    with tcp_connect(second, PASSWORD) as connection:
        assert connection.execute("SELECT current_user").fetchone() == (USER,)
    with pytest.raises(psycopg.OperationalError, match=f'password authentication failed for user "{USER}"'):
        tcp_connect(second, "second-Passw0rd")


def test_failing_init_script_stops_first_start_and_restart_skips_remaining_scripts(
        resources: Resources, init_dir: Path) -> None:
    write(init_dir, "01_ok.sql", "CREATE TABLE before_failure (id int);\n")
    write(init_dir, "02_fails.sql", "SELECT * FROM no_such_table;\n")
    write(init_dir, "03_never.sql", "CREATE TABLE after_failure (id int);\n")
    volume = resources.volume("data")
    first = start(resources, "first", volume, init_dir)

    assert wait_for_exit(first) != 0
    output = logs(first)
    assert f"{ENTRYPOINT}: running /docker-entrypoint-initdb.d/02_fails.sql" in output
    assert 'relation "no_such_table" does not exist' in output
    assert "03_never.sql" not in output
    assert INIT_COMPLETE not in output

    # What a pod restart does: same volume, same scripts; the rest of the scripts never run.
    docker("start", first)
    restarted_output = wait_for_log(first, SKIPPING)
    wait_ready(first)
    assert "03_never.sql" not in restarted_output
    assert socket_sql(first, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'") == \
        "before_failure"


def test_local_socket_is_trusted_and_tcp_needs_the_scram_password(resources: Resources) -> None:
    container = start(resources, "auth", resources.volume("data"))
    output = wait_for_log(container, INIT_COMPLETE)
    wait_ready(container)
    # No init scripts: the unexpanded pattern is reported as ignored, like upstream.
    assert running_lines(output) == [f"{ENTRYPOINT}: ignoring /docker-entrypoint-initdb.d/*"]

    assert socket_sql(container, "SELECT 1") == "1"
    assert socket_sql(container, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid "
                                 "WHERE rolname = current_user") == "t"
    # initdb's own lines stay first (socket trust); remote clients fall through to scram-sha-256.
    assert socket_sql(container, "SELECT type || ' ' || coalesce(address, '-') || ' ' || auth_method "
                                 "FROM pg_hba_file_rules WHERE 'all' = ANY(database) ORDER BY rule_number") \
        .splitlines() == ["local - trust", "host 127.0.0.1 trust", "host ::1 trust", "host all scram-sha-256"]
    with pytest.raises(psycopg.OperationalError, match="no password supplied|password authentication failed"):
        tcp_connect(container, None)
    with pytest.raises(psycopg.OperationalError, match=f'password authentication failed for user "{USER}"'):
        tcp_connect(container, "wrong-password")
    with tcp_connect(container, PASSWORD) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == (DATABASE,)


def test_started_as_root_it_owns_the_volume_and_runs_as_postgres(resources: Resources) -> None:
    volume = resources.volume("data")
    # A volume left owned by root (as a hostPath would be) is taken over by uid 70.
    docker("run", "--rm", "--entrypoint", "chown", "-v", f"{volume}:/data", IMAGE, "-R", "0:0", "/data")
    container = start(resources, "root", volume, options=[])
    wait_for_log(container, INIT_COMPLETE)
    wait_ready(container)
    assert "Uid:\t70\t70\t70\t70" in docker("exec", container, "cat", "/proc/1/status").stdout
    assert docker("exec", container, "stat", "-c", "%u %a", "/var/lib/postgresql/data/PG_VERSION").stdout.strip() \
        == "70 600"


def test_file_variants_initdb_args_and_custom_pgdata(resources: Resources, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o755)
    (secrets / "password").write_text("from-a-file\n")
    (secrets / "user").write_text("fileuser")
    for secret in secrets.iterdir():
        secret.chmod(0o644)
    volume = resources.volume("data")
    container = start(resources, "files", volume, options=[
        *AS_CHART, "-v", f"{secrets}:/run/secrets:ro"], env={
        "POSTGRES_USER": "", "POSTGRES_PASSWORD": "", "POSTGRES_DB": "",
        "POSTGRES_USER_FILE": "/run/secrets/user", "POSTGRES_PASSWORD_FILE": "/run/secrets/password",
        "POSTGRES_INITDB_ARGS": "--data-checksums --encoding=UTF8",
        # A subdirectory of the mount, as charts do when the volume root is not the server's.
        "PGDATA": "/var/lib/postgresql/data/pgdata"})
    wait_for_log(container, INIT_COMPLETE)
    wait_ready(container)
    # POSTGRES_DB defaults to the user's name; the trailing newline of the file is not part of it.
    assert socket_sql(container, "SHOW data_checksums", user="fileuser", database="fileuser") == "on"
    with psycopg.connect(host=container_ip(container), port=5432, user="fileuser", dbname="fileuser",
                         password="from-a-file", connect_timeout=5) as connection:
        assert connection.execute("SELECT current_setting('data_directory')").fetchone() == \
            ("/var/lib/postgresql/data/pgdata",)


def test_refuses_to_initialise_without_a_password_or_with_both_value_and_file(resources: Resources) -> None:
    no_password = start(resources, "nopass", resources.volume("a"), password="")
    assert wait_for_exit(no_password) == 1
    assert "Database is uninitialized and superuser password is not specified." in logs(no_password)

    both = start(resources, "both", resources.volume("b"), env={"POSTGRES_PASSWORD_FILE": "/etc/hostname"})
    assert wait_for_exit(both) == 1
    assert "error: both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set (but are exclusive)" in logs(both)


def test_host_auth_method_trust_lets_tcp_in_without_password(resources: Resources) -> None:
    container = start(resources, "trust", resources.volume("data"), password="",
                      env={"POSTGRES_HOST_AUTH_METHOD": "trust"})
    wait_for_log(container, INIT_COMPLETE)
    wait_ready(container)
    assert 'WARNING: POSTGRES_HOST_AUTH_METHOD has been set to "trust"' in logs(container)
    with tcp_connect(container, None) as connection:
        assert connection.execute("SELECT current_user").fetchone() == (USER,)


def test_hook_style_shell_commands_work_from_a_second_container(resources: Resources) -> None:
    """The chart's hooks run this image with `sh -c` and wait with `until pg_isready`, then psql
    over TCP with a password from the environment."""
    network = resources.network("net")
    server = start(resources, "server", resources.volume("data"), options=[*AS_CHART, "--network", network,
                                                                           "--network-alias", "db"])
    hook = resources.run_detached("hook", IMAGE, "sh", "-c", (
        "until pg_isready -h db -p 5432 -q; do sleep 0.5; done; "
        "psql -v ON_ERROR_STOP=1 -h db -U \"$PGUSER\" -d rhdemodb -At -c 'SELECT 40 + 2'"),
        options=[*AS_CHART, "--network", network, "-e", f"PGUSER={USER}", "-e", f"PGPASSWORD={PASSWORD}"])
    assert wait_for_exit(hook, timeout=90) == 0, logs(hook) + logs(server)
    assert logs(hook).strip().splitlines()[-1] == "42"


def test_runs_with_the_charts_mounts_as_uid_70(resources: Resources) -> None:
    """As in the chart's StatefulSet on kind: a local-path volume (root-owned, 0777) with PGDATA in a
    subdirectory, and an empty root-owned directory mounted on /var/run/postgresql."""
    volume = resources.volume("data")
    docker("run", "--rm", "--entrypoint", "sh", "-v", f"{volume}:/data", IMAGE, "-c",
           "chown 0:0 /data && chmod 0777 /data")
    container = start(resources, "chart", volume, options=[
        *AS_CHART, "--group-add", "70", "--tmpfs", "/var/run/postgresql:mode=1777"],
        env={"PGDATA": "/var/lib/postgresql/data/pgdata"})
    wait_for_log(container, INIT_COMPLETE)
    wait_ready(container)
    # The chart's readiness probe, verbatim.
    docker("exec", container, "/bin/sh", "-c",
           'exec pg_isready -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB"')
    assert socket_sql(container, "SELECT current_setting('data_directory')") == "/var/lib/postgresql/data/pgdata"
