# Solution 2A (migrations.mode=sql-job): applies the versioned SQL files of $MIGRATIONS_DIR in version
# order and records each in schema_migrations (the analysis' table). Unlike the analysis' script, each
# migration runs in ONE transaction with its schema_migrations row (a failure leaves schema and table
# unchanged), under an advisory lock (two runs at once apply each migration once), with ON_ERROR_STOP.
# Before anything is applied, every file is checked: a version in its name (V1_2__x.sql as Flyway, or
# the analysis' 20251218-0001-x.sql), no duplicate version, no transaction control (BEGIN, COMMIT,
# ROLLBACK... would end the migration's transaction and break its atomicity) and no psql
# meta-command (\! runs a shell, \c changes database, \set ON_ERROR_STOP off hides failures).
# Versions sort like Flyway (numeric parts: V1_10 after V1_2) and a version older than one already
# applied is refused (Flyway's outOfOrder=false).
# Connection: the libpq PG* environment (PGPASSWORD from the Secret).
# No double dollar sign here: in a container's command Kubernetes turns it into one (named dollar quotes instead).
set -eu
dir="${MIGRATIONS_DIR:-/migrations}"
echo "📊 Application des migrations de schéma..."

# "<sort key>\t<file>" per file, sorted: the key is the version's numeric parts, zero-padded.
# A name without a version, or two files with the same version, is refused.
keyed="$(for path in "$dir"/*.sql; do [ -f "$path" ] && basename "$path"; done | awk '
  {
    v = $0; sub(/^[Vv]/, "", v)
    if (!match(v, /^[0-9]+([._-][0-9]+)*/)) {
      print "❌ " $0 " : pas de version dans le nom (V<version>__<description>.sql, ex. V1_2__ajout.sql)" > "/dev/stderr"
      bad = 1; next
    }
    n = split(substr(v, 1, RLENGTH), parts, /[._-]/)
    while (n > 1 && parts[n] + 0 == 0) n--    # Flyway: 1.0 is 1
    key = ""
    for (i = 1; i <= n; i++) {
      p = parts[i]; sub(/^0+/, "", p)
      if (length(p) > 30) { print "❌ " $0 " : version trop longue" > "/dev/stderr"; bad = 1; next }
      while (length(p) < 30) p = "0" p
      key = key (i > 1 ? "." : "") p
    }
    print key "\t" $0
  }
  END { exit bad }')" || exit 1
keyed="$(printf '%s\n' "$keyed" | sort)"
duplicates="$(printf '%s\n' "$keyed" | cut -f 1 | uniq -d)"
if [ -n "$duplicates" ]; then
  for key in $duplicates; do
    echo "❌ Même version pour plusieurs fichiers : $(printf '%s\n' "$keyed" | awk -F '\t' -v k="$key" '$1 == k { printf "%s ", $2 }')"
  done
  echo "❌ Aucune migration appliquée"
  exit 1
fi
files="$(printf '%s\n' "$keyed" | cut -f 2)"

# Transaction control and psql meta-commands, outside strings, quoted identifiers and comments
# (a PL/pgSQL BEGIN lives in a dollar-quoted body; END closing BEGIN ATOMIC is allowed).
problems="$(for file in $files; do printf '\001%s\n' "$file"; cat "$dir/$file"; echo; done | awk '
  function word_end() {
    if (w == "") return
    u = toupper(w); nw++
    if (nw == 1) first = u
    if (nw == 2) second = u
    if (prev == "BEGIN" && u == "ATOMIC" && nw > 2) atomic = 1
    prev = u; w = ""
  }
  function stmt_end() {
    word_end()
    if (first == "END" && atomic) atomic = 0
    else if (first == "BEGIN" || first == "COMMIT" || first == "END" || first == "ABORT" \
        || (first == "START" && second == "TRANSACTION") || (first == "PREPARE" && second == "TRANSACTION") \
        || (first == "ROLLBACK" && second != "TO"))
      report(sline, "contrôle de transaction (" first (second != "" ? " " second : "") ")")
    nw = 0; first = ""; second = ""; prev = ""; sline = 0
  }
  function report(at, what) { print "❌ " file ":" at " : " what " interdit dans une migration"; bad = 1 }
  /^\001/ {                      # a new file starts (the line is its name)
    stmt_end(); file = substr($0, 2); line = 0; state = ""; depth = 0; atomic = 0; next
  }
  {
    line++; s = $0; n = length(s)
    for (i = 1; i <= n; i++) {
      c = substr(s, i, 1); d = substr(s, i + 1, 1)
      if (state == "sq" || state == "eq") {          # string literal (eq: E'\'...' escapes)
        if (state == "eq" && c == "\\") i++
        else if (c == "'\''" && d == "'\''") i++
        else if (c == "'\''") state = ""
      } else if (state == "dq") {                    # quoted identifier
        if (c == "\"" && d == "\"") i++
        else if (c == "\"") state = ""
      } else if (state == "dollar") {                # $tag$ ... $tag$
        if (substr(s, i, length(tag)) == tag) { i += length(tag) - 1; state = "" }
      } else if (state == "comment") {               # /* ... */, nested
        if (c == "/" && d == "*") { depth++; i++ }
        else if (c == "*" && d == "/") { i++; if (--depth == 0) state = "" }
      } else if (c == "-" && d == "-") {
        break
      } else if (c == "/" && d == "*") {
        word_end(); state = "comment"; depth = 1; i++
      } else if (c == "'\''") {
        if (toupper(w) == "E") { w = ""; state = "eq" } else { word_end(); state = "sq" }
      } else if (c == "\"") {
        word_end(); state = "dq"
      } else if (c == "$" && w == "" && match(substr(s, i), /^\$[A-Za-z_]*\$/)) {
        tag = substr(s, i, RLENGTH); i += RLENGTH - 1; state = "dollar"
      } else if (c == "\\") {
        report(line, "méta-commande psql (" substr(s, i, 8) ")"); break
      } else if (c == ";") {
        stmt_end()
      } else if (c ~ /[A-Za-z0-9_$]/) {
        if (sline == 0) sline = line
        w = w c
      } else {
        word_end()
      }
    }
    word_end()
  }
  END { stmt_end(); exit bad }')" || {
  printf '%s\n' "$problems"
  echo "❌ Aucune migration appliquée"
  exit 1
}

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
-- The version's numeric parts, compared like Flyway (NULL for a name without a version).
CREATE FUNCTION pg_temp.migration_key(text) RETURNS numeric[] IMMUTABLE LANGUAGE sql AS $key$
  SELECT string_to_array(regexp_replace(substring($1 FROM '^[Vv]?([0-9]+(?:[._-][0-9]+)*)'), '[._-]', ',', 'g'), ',')::numeric[]
$key$;
SELECT set_config('rhdemo.version', :'version', true) \g /dev/null
DO $check$
DECLARE
  newest text;
BEGIN
  SELECT version INTO newest FROM schema_migrations
  WHERE pg_temp.migration_key(version) > pg_temp.migration_key(current_setting('rhdemo.version'))
  ORDER BY pg_temp.migration_key(version) DESC LIMIT 1;
  IF newest IS NOT NULL THEN
    RAISE EXCEPTION 'migration % hors ordre : % (plus récente) est déjà appliquée ; donnez-lui une version plus grande (Flyway la refuserait aussi, outOfOrder=false)',
      current_setting('rhdemo.version'), newest;
  END IF;
END $check$;
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
