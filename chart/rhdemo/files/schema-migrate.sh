# Solution 2A (migrations.mode=sql-job): applies the versioned SQL files of $MIGRATIONS_DIR in version
# order and records each in schema_migrations (the analysis' table). Unlike the analysis' script, each
# migration runs in ONE transaction with its schema_migrations row (a failure leaves schema and table
# unchanged), under an advisory lock (two runs at once apply each migration once), with ON_ERROR_STOP.
# Connection: the libpq PG* environment (PGPASSWORD from the Secret).
set -eu
dir="${MIGRATIONS_DIR:-/migrations}"
echo "📊 Application des migrations de schéma..."

# Version order: numeric on the name without its leading V (V1__a, V2__b, V10__c, or 20251218-0001-x).
files="$(for path in "$dir"/*.sql; do [ -f "$path" ] && basename "$path"; done \
  | awk '{ k = $0; sub(/^[Vv]/, "", k); print k "\t" $0 }' | sort -n | cut -f 2)"

for file in $files; do
  version="${file%.sql}"
  if ! psql -X -q --no-psqlrc -tA -v ON_ERROR_STOP=1 -v version="$version" -v file="$dir/$file" <<'EOSQL'
SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('rhdemo.schema_migrations')) \g /dev/null
CREATE TABLE IF NOT EXISTS schema_migrations (
  version VARCHAR(50) PRIMARY KEY,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
SELECT NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = :'version') AS pending \gset
\if :pending
\echo '▶️  Application de la migration' :version
\i :file
INSERT INTO schema_migrations (version) VALUES (:'version');
\echo '✅ Migration' :version 'appliquée'
\else
\echo '⏭️  Migration' :version 'déjà appliquée'
\endif
COMMIT;
EOSQL
  then
    echo "❌ Migration ${version} en échec : sa transaction est annulée (schéma et schema_migrations inchangés)"
    exit 1
  fi
done

echo "✅ Toutes les migrations sont appliquées"
