# The chart's first init script (key 000-app-role.sh of the `<instance>-init` ConfigMap): on an empty
# PGDATA only, before the values' initScripts, the image's entrypoint SOURCES it (a ConfigMap file is
# not executable) with initdb's superuser $POSTGRES_USER, database $POSTGRES_DB and the Secret's
# password $POSTGRES_PASSWORD. It creates the role the clients use, $APP_ROLE: not a superuser, owner
# of $POSTGRES_DB (so of its public schema, PostgreSQL >= 15), with the Secret's password — as a
# SCRAM-SHA-256 verifier computed by psql's \password, the cleartext never reaches the server. Then
# it clears the superuser's password: the superuser is reachable only through the local socket.
# The scripts after it run as $APP_ROLE (PGOPTIONS, inherited by the entrypoint's psql because this
# file is sourced): the tables they create belong to the app. The server ignores PGOPTIONS.
# \password reads the controlling terminal when there is one (docker run -t): detach from it.
rhdemo_detach=""
if (: < /dev/tty) 2>/dev/null; then rhdemo_detach=setsid; fi
{
  cat <<'EOSQL'
\set ON_ERROR_STOP 1
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET log_min_duration_sample = -1;
SET log_transaction_sample_rate = 0;
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"role" LOGIN NOSUPERUSER;
\password :"role"
EOSQL
  printf '%s\n%s\n' "$POSTGRES_PASSWORD" "$POSTGRES_PASSWORD"
  cat <<'EOSQL'
ALTER DATABASE :"db" OWNER TO :"role";
ALTER ROLE :"admin" PASSWORD NULL;
\echo 'rhdemo: role' :role 'created: not a superuser, owns database' :db '- superuser' :admin 'has no password (local socket only)'
EOSQL
} | $rhdemo_detach psql -X -q --no-psqlrc -v role="$APP_ROLE" -v db="$POSTGRES_DB" -v admin="$POSTGRES_USER" \
    --username "$POSTGRES_USER" --no-password --dbname postgres 2>&1 \
  | sed -e '/^Enter new password for user /d' -e '/^Enter it again: /d'
unset rhdemo_detach
export PGOPTIONS="-c role=${APP_ROLE}"
