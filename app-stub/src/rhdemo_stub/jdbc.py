"""PostgreSQL JDBC URLs (`jdbc:postgresql://host1:port1,host2/db?params`) turned into libpq settings,
the way pgjdbc reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote


class JdbcUrlError(ValueError):
    pass


# pgjdbc parameter -> libpq keyword (values copied as they are).
_DIRECT = {
    "sslmode": "sslmode",
    "sslrootcert": "sslrootcert",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "applicationname": "application_name",
    "targetservertype": "target_session_attrs",
}


@dataclass(frozen=True)
class JdbcUrl:
    hosts: tuple[tuple[str, int], ...]
    database: str
    params: dict[str, str] = field(default_factory=dict)

    def conninfo_kwargs(self, user: str, password: str) -> dict[str, str]:
        """Keyword arguments for psycopg.connect / make_conninfo. The password stays out of any log line."""
        kwargs: dict[str, str] = {
            "host": ",".join(h for h, _ in self.hosts),
            "port": ",".join(str(p) for _, p in self.hosts),
            "dbname": self.database,
            "connect_timeout": "10",
        }
        user = user or self.params.get("user", "")
        password = password or self.params.get("password", "")
        if user:
            kwargs["user"] = user
        if password:
            kwargs["password"] = password
        lowered = {k.lower(): v for k, v in self.params.items()}
        for key, libpq in _DIRECT.items():
            if key in lowered:
                value = lowered[key]
                if libpq == "target_session_attrs":
                    value = {"primary": "read-write", "master": "read-write", "secondary": "read-only"}.get(value, value)
                kwargs[libpq] = value
        if "connecttimeout" in lowered:
            kwargs["connect_timeout"] = lowered["connecttimeout"]
        if "currentschema" in lowered:
            kwargs["options"] = f"-c search_path={lowered['currentschema']}"
        return kwargs

    def display(self) -> str:
        """The URL as Flyway and Hikari print it: without query parameters (they may hold a password)."""
        hosts = ",".join(f"{h}:{p}" for h, p in self.hosts)
        return f"jdbc:postgresql://{hosts}/{self.database}"


def parse_jdbc_url(url: str) -> JdbcUrl:
    prefix = "jdbc:postgresql:"
    if not url.startswith(prefix):
        raise JdbcUrlError(f"Driver org.postgresql.Driver claims to not accept jdbcUrl, {_redact(url)}")
    rest = url[len(prefix):]
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
    params = {k: v for k, v in parse_qsl(query, keep_blank_values=True)}
    if not rest.startswith("//"):
        # jdbc:postgresql:database -> localhost:5432
        database = unquote(rest) or params.get("user", "")
        return JdbcUrl(hosts=(("localhost", 5432),), database=database, params=params)
    rest = rest[2:]
    authority, _, path = rest.partition("/")
    hosts: list[tuple[str, int]] = []
    for item in (authority or "localhost").split(","):
        host, port = _split_host_port(item, url)
        hosts.append((host, port))
    database = unquote(path) or params.get("user", "")
    if not database:
        raise JdbcUrlError(f"Driver org.postgresql.Driver claims to not accept jdbcUrl, {_redact(url)}")
    return JdbcUrl(hosts=tuple(hosts), database=database, params=params)


def _split_host_port(item: str, url: str) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # IPv6 literal
        end = item.find("]")
        host, port_text = item[1:end], item[end + 2:] if item[end + 1:end + 2] == ":" else ""
    elif ":" in item:
        host, port_text = item.rsplit(":", 1)
    else:
        host, port_text = item, ""
    if not port_text:
        return host or "localhost", 5432
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise JdbcUrlError(f"Driver org.postgresql.Driver claims to not accept jdbcUrl, {_redact(url)}")
    return host or "localhost", int(port_text)


def _redact(url: str) -> str:
    """Never print a password carried in the query string."""
    if "?" not in url:
        return url
    base, query = url.split("?", 1)
    pairs = [f"{k}=***" if k.lower() == "password" else f"{k}={v}" for k, v in parse_qsl(query, keep_blank_values=True)]
    return base + "?" + "&".join(pairs)
