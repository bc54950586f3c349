#!/usr/bin/env bash
# rhdemo-lab's PostgreSQL entrypoint: this project's own code, written to the observable contract of
# the official postgres image (docker-library/postgres) so the chart and the scenarios see the same
# behaviour on this Debian-built image as on postgres:16-alpine:
#   - initialise only when $PGDATA/PG_VERSION is missing or empty; otherwise log
#     "PostgreSQL Database directory appears to contain a database; Skipping initialization"
#     and ignore POSTGRES_PASSWORD and /docker-entrypoint-initdb.d entirely;
#   - POSTGRES_USER (default postgres) is the superuser, POSTGRES_PASSWORD its password,
#     POSTGRES_DB (default: the user's name) is created, POSTGRES_INITDB_ARGS go to initdb,
#     POSTGRES_INITDB_WALDIR, and every one of USER/PASSWORD/DB/INITDB_ARGS has a *_FILE variant;
#   - pg_hba: initdb's defaults (local socket trusted) plus `host all all all <method>`, where the
#     method is POSTGRES_HOST_AUTH_METHOD or the server's password_encryption (scram-sha-256);
#   - /docker-entrypoint-initdb.d/* run once, in glob order, against a temporary server that
#     listens on the Unix socket only: *.sql / *.sql.gz / *.sql.xz / *.sql.zst through
#     `psql -v ON_ERROR_STOP=1`, executable *.sh run, other *.sh sourced, anything else ignored.
#     The first failure aborts the start (non-zero exit) with PGDATA already initialised, so a
#     restart skips initialisation and the remaining scripts never run;
#   - started as root it prepares the directories and re-executes itself as postgres (uid 70);
#     started as any other uid it runs as that uid (nss_wrapper supplies a passwd entry if needed).
set -Eeo pipefail

self="$0"

# read_setting NAME [DEFAULT]: NAME from the environment, or from the file named by NAME_FILE.
read_setting() {
  local name="$1" default="${2:-}"
  local file_name="${name}_FILE"
  local value="${!name:-}" file="${!file_name:-}"
  if [[ -n "$value" && -n "$file" ]]; then
    printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$name" "$file_name"
    exit 1
  fi
  if [[ -n "$file" ]]; then
    value="$(<"$file")"
  fi
  export "$name=${value:-$default}"
  unset "$file_name"
}

# Flags that make postgres print something and exit: no initialisation for those.
only_asks_for_information() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      -'?' | --help | --describe-config | -V | --version) return 0 ;;
    esac
  done
  return 1
}

prepare_directories() {
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA" 2>/dev/null || true
  mkdir -p /var/run/postgresql 2>/dev/null || true
  chmod 3775 /var/run/postgresql 2>/dev/null || true
  if [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    chmod 0700 "$POSTGRES_INITDB_WALDIR"
  fi
  if [[ "$(id -u)" == 0 ]]; then
    local dir
    for dir in "$PGDATA" /var/run/postgresql ${POSTGRES_INITDB_WALDIR:+"$POSTGRES_INITDB_WALDIR"}; do
      find "$dir" ! -user postgres -exec chown postgres: {} +
    done
  fi
}

refuse_missing_password() {
  if [[ -z "$POSTGRES_PASSWORD" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
    cat >&2 <<'MESSAGE'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.

       See PostgreSQL documentation about "trust":
       https://www.postgresql.org/docs/current/auth-trust.html
MESSAGE
    exit 1
  fi
  if [[ "$POSTGRES_HOST_AUTH_METHOD" == trust ]]; then
    cat >&2 <<'MESSAGE'
********************************************************************************
WARNING: POSTGRES_HOST_AUTH_METHOD has been set to "trust". This will allow
         anyone with access to the Postgres port to access your database without
         a password, even if POSTGRES_PASSWORD is set.
********************************************************************************
MESSAGE
  fi
}

# initdb insists that the running uid has a passwd entry; arbitrary uids get one from nss_wrapper.
provide_passwd_entry() {
  getent passwd "$(id -u)" >/dev/null 2>&1 && return 0
  local library
  for library in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
    [[ -s "$library" ]] || continue
    NSS_WRAPPER_PASSWD="$(mktemp)" NSS_WRAPPER_GROUP="$(mktemp)"
    printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >"$NSS_WRAPPER_PASSWD"
    printf 'postgres:x:%s:\n' "$(id -g)" >"$NSS_WRAPPER_GROUP"
    export LD_PRELOAD="$library" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    return 0
  done
}

forget_passwd_entry() {
  if [[ "${LD_PRELOAD:-}" == */libnss_wrapper.so ]]; then
    rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
    unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  fi
}

create_cluster() {
  local waldir=()
  [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]] && waldir=(--waldir "$POSTGRES_INITDB_WALDIR")
  provide_passwd_entry
  # The password reaches initdb through a pipe, never argv. initdb rejects an empty file, hence
  # the newline. POSTGRES_INITDB_ARGS is a shell word list (quotes allowed), as upstream.
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "${waldir[@]}"'
  forget_passwd_entry
}

# Remote (TCP) connections: the configured method, or whatever password_encryption the server
# uses (scram-sha-256 since PostgreSQL 14). initdb's own lines (local socket trust) stay first.
allow_remote_connections() {
  local server_args=("$@")
  [[ "${server_args[0]:-}" == postgres ]] && server_args=("${server_args[@]:1}")
  if [[ -z "$POSTGRES_HOST_AUTH_METHOD" ]]; then
    POSTGRES_HOST_AUTH_METHOD="$(postgres -C password_encryption "${server_args[@]}")"
  fi
  {
    echo
    if [[ "$POSTGRES_HOST_AUTH_METHOD" == trust ]]; then
      echo '# warning trust is enabled for all connections'
    fi
    echo "host all all all $POSTGRES_HOST_AUTH_METHOD"
  } >>"$PGDATA/pg_hba.conf"
}

start_socket_only_server() {
  local server_args=("$@")
  [[ "${server_args[0]:-}" == postgres ]] && server_args=("${server_args[@]:1}")
  server_args+=(-c "listen_addresses=" -p "${PGPORT:-5432}")
  NOTIFY_SOCKET= PGUSER="${PGUSER:-$POSTGRES_USER}" \
    pg_ctl -D "$PGDATA" -o "$(printf '%q ' "${server_args[@]}")" -w start
}

stop_socket_only_server() {
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -m fast -w stop
}

# run_sql [psql args...]: the init scripts' psql, through the socket, stopping at the first error.
run_sql() {
  local command=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  [[ -n "$POSTGRES_DB" ]] && command+=(--dbname "$POSTGRES_DB")
  PGHOST= PGHOSTADDR= "${command[@]}" "$@"
}

create_database() {
  local exists
  exists="$(POSTGRES_DB= run_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
  if [[ -z "${exists//[[:space:]]/}" ]]; then
    POSTGRES_DB= run_sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    echo
  fi
}

run_init_scripts() {
  echo
  local script
  # An empty directory leaves the pattern unexpanded: it is then "ignored", as upstream logs it.
  for script in "$@"; do
    case "$script" in
      *.sh)
        if [[ -x "$script" ]]; then
          echo "$self: running $script"
          "$script"
        else
          echo "$self: sourcing $script"
          # shellcheck disable=SC1090
          . "$script"
        fi
        ;;
      *.sql) echo "$self: running $script"; run_sql -f "$script"; echo ;;
      *.sql.gz) echo "$self: running $script"; gzip -dc "$script" | run_sql; echo ;;
      *.sql.xz) echo "$self: running $script"; xz -dc "$script" | run_sql; echo ;;
      *.sql.zst) echo "$self: running $script"; zstd -dc "$script" | run_sql; echo ;;
      *) echo "$self: ignoring $script" ;;
    esac
    echo
  done
}

initialise() {
  refuse_missing_password
  # Fail before initdb (not half-way) when the init directory is unreadable.
  ls /docker-entrypoint-initdb.d/ >/dev/null
  create_cluster
  allow_remote_connections "$@"
  # For scripts that connect themselves and for --auth-local=scram-sha-256 style INITDB_ARGS.
  export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
  start_socket_only_server "$@"
  create_database
  run_init_scripts /docker-entrypoint-initdb.d/*
  stop_socket_only_server
  unset PGPASSWORD
  printf '\nPostgreSQL init process complete; ready for start up.\n\n'
}

main() {
  # `docker run image -c shared_buffers=256MB` means postgres with those flags.
  if [[ "${1:0:1}" == - ]]; then
    set -- postgres "$@"
  fi
  if [[ "$1" != postgres ]] || only_asks_for_information "$@"; then
    exec "$@"
  fi

  : "${PGDATA:=/var/lib/postgresql/data}"
  export PGDATA
  read_setting POSTGRES_PASSWORD
  read_setting POSTGRES_USER postgres
  read_setting POSTGRES_DB "$POSTGRES_USER"
  read_setting POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"

  prepare_directories
  if [[ "$(id -u)" == 0 ]]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$self" "$@"
  fi

  if [[ -s "$PGDATA/PG_VERSION" ]]; then
    printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
  else
    initialise "$@"
  fi
  exec "$@"
}

main "$@"
