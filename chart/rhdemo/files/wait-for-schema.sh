# wait-for-schema (migrations.mode sql-job / flyway-job): the app validates the schema at start
# (ddl-auto=validate), so it waits until the migration Job has recorded every expected version
# ($EXPECTED_VERSIONS, space-separated) in $HISTORY_TABLE (schema_migrations or flyway_schema_history).
# Connection: the libpq PG* environment (PGPASSWORD from the Secret).
set -u
# shellcheck disable=SC2086 # split the list into words on purpose: $# counts the versions
set -- $EXPECTED_VERSIONS
expected=$#
echo "⏳ Attente des migrations (${HISTORY_TABLE}) : ${EXPECTED_VERSIONS}"
while :; do
  found="$(psql -X -q --no-psqlrc -tA -v table="$HISTORY_TABLE" -v versions="$EXPECTED_VERSIONS" 2>&1 <<'EOSQL'
SELECT :'table' = 'flyway_schema_history' AS flyway \gset
\if :flyway
SELECT count(DISTINCT version) FROM flyway_schema_history
WHERE success AND version = ANY (string_to_array(:'versions', ' '));
\else
SELECT count(DISTINCT version) FROM schema_migrations WHERE version = ANY (string_to_array(:'versions', ' '));
\endif
EOSQL
)"
  if [ "$found" = "$expected" ]; then
    echo "✅ Schéma migré (${found}/${expected} migrations appliquées)"
    exit 0
  fi
  echo "⏳ Migrations pas encore appliquées (${found}), nouvelle tentative dans ${WAIT_INTERVAL_SECONDS:-3} s"
  sleep "${WAIT_INTERVAL_SECONDS:-3}"
done
