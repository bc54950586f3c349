"""The `Employe` entity in its two releases, and Hibernate's schema management for it
(`spring.jpa.hibernate.ddl-auto`: none, validate, update, create, create-drop)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

TABLE = "employes"
DEFAULT_RELEASE = "1.0"


class SchemaManagementError(Exception):
    """org.hibernate.tool.schema.spi.SchemaManagementException."""


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str        # what Hibernate expects, e.g. varchar(250)
    jdbc_type: str       # java.sql.Types name Hibernate compares
    nullable: bool
    max_length: int | None = None
    generated: bool = False

    def ddl(self) -> str:
        kind = "bigserial" if self.generated else self.sql_type
        return f"{self.name} {kind}{'' if self.nullable else ' not null'}"


@dataclass(frozen=True)
class Model:
    release: str
    columns: tuple[Column, ...]     # in Hibernate's order: id first, then properties by name
    migrations: tuple[str, ...]     # the scripts bundled under classpath:db/migration

    @property
    def writable(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.generated)


_ID = Column("id", "bigint", "BIGINT", nullable=False, generated=True)
_V10 = (
    _ID,
    Column("adresse", "varchar(500)", "VARCHAR", nullable=True, max_length=500),
    Column("mail", "varchar(250)", "VARCHAR", nullable=False, max_length=250),
    Column("nom", "varchar(250)", "VARCHAR", nullable=False, max_length=250),
    Column("prenom", "varchar(250)", "VARCHAR", nullable=False, max_length=250),
)
RELEASES: dict[str, Model] = {
    "1.0": Model("1.0", _V10, ("V1__initial_schema.sql",)),
    "1.1": Model("1.1", (*_V10, Column("telephone", "varchar(20)", "VARCHAR", nullable=True, max_length=20)),
                 ("V1__initial_schema.sql", "V2__add_phone_column.sql")),
}


def current_model(env: dict[str, str] | None = None) -> Model:
    """The release baked into the image (build arg APP_VERSION -> env RHDEMO_APP_VERSION)."""
    release = (env if env is not None else os.environ).get("RHDEMO_APP_VERSION", DEFAULT_RELEASE) or DEFAULT_RELEASE
    if release not in RELEASES:
        raise ValueError(f"RHDEMO_APP_VERSION={release!r} is not a model release; expected one of "
                         f"{', '.join(RELEASES)}")
    return RELEASES[release]


# PostgreSQL type name -> (java.sql.Types name as pgjdbc reports it).
_JDBC_TYPES = {
    "int8": "BIGINT", "int4": "INTEGER", "int2": "SMALLINT", "varchar": "VARCHAR", "text": "VARCHAR",
    "bpchar": "CHAR", "bool": "BIT", "numeric": "NUMERIC", "float4": "REAL", "float8": "DOUBLE",
    "date": "DATE", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMP", "time": "TIME", "timetz": "TIME",
    "bytea": "BINARY", "name": "VARCHAR",
}
_EQUIVALENT = ({"NUMERIC", "DECIMAL"}, {"FLOAT", "REAL", "DOUBLE"})


def _types_match(expected: Column, found_name: str, found_jdbc: str) -> bool:
    """Hibernate 6: equivalent JDBC type codes, or the same type name without arguments."""
    if expected.jdbc_type == found_jdbc or any({expected.jdbc_type, found_jdbc} <= group for group in _EQUIVALENT):
        return True
    return expected.sql_type.split("(")[0].lower() == found_name.lower()


@dataclass(frozen=True)
class FoundColumn:
    type_name: str   # as pgjdbc's DatabaseMetaData reports it (bigserial for a serial int8)
    jdbc_type: str


def _found_columns(conn: psycopg.Connection) -> dict[str, FoundColumn] | None:
    """The table's columns as seen through the search_path, or None when there is no table."""
    row = conn.execute("SELECT to_regclass(%s)::oid", (TABLE,)).fetchone()
    if not row or row[0] is None:
        return None
    rows = conn.execute("""
        SELECT a.attname, t.typname, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped""", (row[0],)).fetchall()
    found: dict[str, FoundColumn] = {}
    for name, typname, default in rows:
        type_name = typname
        if default and str(default).startswith("nextval(") and typname in ("int8", "int4", "int2"):
            type_name = {"int8": "bigserial", "int4": "serial", "int2": "smallserial"}[typname]
        found[name] = FoundColumn(type_name, _JDBC_TYPES.get(typname, "OTHER"))
    return found


def validate(conn: psycopg.Connection, model: Model) -> None:
    found = _found_columns(conn)
    if found is None:
        raise SchemaManagementError(f"Schema-validation: missing table [{TABLE}]")
    for column in model.columns:
        if column.name not in found:
            raise SchemaManagementError(f"Schema-validation: missing column [{column.name}] in table [{TABLE}]")
        actual = found[column.name]
        if not _types_match(column, actual.type_name, actual.jdbc_type):
            raise SchemaManagementError(
                f"Schema-validation: wrong column type encountered in column [{column.name}] in table [{TABLE}]; "
                f"found [{actual.type_name.lower()} (Types#{actual.jdbc_type})], "
                f"but expecting [{column.sql_type} (Types#{column.jdbc_type})]")


def create_table_sql(model: Model) -> str:
    columns = ", ".join(c.ddl() for c in model.columns)
    return f"create table {TABLE} ({columns}, primary key (id), constraint uk_{TABLE}_mail unique (mail))"


def drop_table_sql() -> str:
    return f"drop table if exists {TABLE} cascade"


Log = Callable[[str, str, str], None]


def apply_ddl_auto(conn: psycopg.Connection, model: Model, mode: str, log: Log) -> None:
    """Hibernate's SchemaManagementTool at EntityManagerFactory start. `conn` is in autocommit."""
    if mode == "none":
        return
    if mode == "validate":
        validate(conn, model)
        return
    if mode in ("create", "create-drop"):
        _run_ddl(conn, drop_table_sql(), log)
        _run_ddl(conn, create_table_sql(model), log)
        return
    if mode == "update":
        found = _found_columns(conn)
        if found is None:
            _run_ddl(conn, create_table_sql(model), log)
            return
        for column in model.columns:
            if column.name not in found:
                # Hibernate adds what is missing and never drops or alters anything.
                _run_ddl(conn, f"alter table if exists {TABLE} add column {column.ddl()}", log)
        return
    raise ValueError(mode)


def _run_ddl(conn: psycopg.Connection, statement: str, log: Log) -> None:
    """Hibernate's default (halt_on_error=false): a failing DDL command is a WARN, not a startup failure."""
    try:
        conn.execute(statement)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        log("WARN", "o.h.t.s.i.ExceptionHandlerLoggedImpl",
            f'GenerationTarget encountered exception accepting command : Error executing DDL "{statement}" '
            f"via JDBC [{(exc.diag.message_primary or str(exc)).strip()}]")


def drop_on_shutdown(conn: psycopg.Connection, log: Log) -> None:
    _run_ddl(conn, drop_table_sql(), log)


def quoted_columns(model: Model) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c.name) for c in model.columns)
