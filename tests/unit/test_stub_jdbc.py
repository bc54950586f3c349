"""PostgreSQL JDBC URLs read the way pgjdbc reads them."""

from __future__ import annotations

import pytest

from rhdemo_stub.jdbc import JdbcUrlError, parse_jdbc_url


def test_host_port_database() -> None:
    url = parse_jdbc_url("jdbc:postgresql://postgresql-rhdemo:5432/rhdemo")
    assert url.hosts == (("postgresql-rhdemo", 5432),) and url.database == "rhdemo"
    kwargs = url.conninfo_kwargs("rhdemo", "s3cret")
    assert (kwargs["host"], kwargs["port"], kwargs["dbname"], kwargs["user"]) == (
        "postgresql-rhdemo", "5432", "rhdemo", "rhdemo")


def test_default_port_and_host() -> None:
    assert parse_jdbc_url("jdbc:postgresql://db/x").hosts == (("db", 5432),)
    assert parse_jdbc_url("jdbc:postgresql:x").hosts == (("localhost", 5432),)


def test_query_parameters_become_libpq_settings() -> None:
    url = parse_jdbc_url("jdbc:postgresql://db:5433/x?sslmode=require&currentSchema=app&connectTimeout=3"
                         "&ApplicationName=rhdemo")
    kwargs = url.conninfo_kwargs("u", "p")
    assert kwargs["sslmode"] == "require"
    assert kwargs["options"] == "-c search_path=app"
    assert kwargs["connect_timeout"] == "3"
    assert kwargs["application_name"] == "rhdemo"


def test_several_hosts_and_ipv6() -> None:
    url = parse_jdbc_url("jdbc:postgresql://a:1,b,[::1]:3/x?targetServerType=primary")
    assert url.hosts == (("a", 1), ("b", 5432), ("::1", 3))
    kwargs = url.conninfo_kwargs("", "")
    assert kwargs["host"] == "a,b,::1" and kwargs["port"] == "1,5432,3"
    assert kwargs["target_session_attrs"] == "read-write"


def test_user_and_password_from_the_url_when_not_configured() -> None:
    url = parse_jdbc_url("jdbc:postgresql://db/x?user=app&password=pw")
    assert url.conninfo_kwargs("", "")["user"] == "app"
    assert url.conninfo_kwargs("other", "")["user"] == "other"


def test_display_never_shows_query_parameters() -> None:
    url = parse_jdbc_url("jdbc:postgresql://db:5432/x?password=secret")
    assert url.display() == "jdbc:postgresql://db:5432/x"


@pytest.mark.parametrize("bad", ["jdbc:mysql://db/x", "postgresql://db/x", "jdbc:postgresql://db:notaport/x",
                                 "jdbc:postgresql://db:70000/x"])
def test_invalid_urls(bad: str) -> None:
    with pytest.raises(JdbcUrlError, match="claims to not accept jdbcUrl"):
        parse_jdbc_url(bad)


def test_invalid_url_error_hides_the_password() -> None:
    with pytest.raises(JdbcUrlError) as info:
        parse_jdbc_url("jdbc:postgresql://db:x/y?password=secret")
    assert "secret" not in str(info.value)
