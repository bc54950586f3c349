# password-sync (passwordSync.mode=robust), runs in the PostgreSQL pod next to the server.
# Applies the password of the mounted Secret file to role $SYNC_ROLE whenever the file changes
# (a rotation through Helm or with kubectl apply; the kubelet refreshes the file in place), and
# every $REVERIFY_INTERVAL_SECONDS checks that the Secret's password still logs in, re-applying it
# when it does not (a manual ALTER ROLE is undone).
# It connects as $POSTGRES_USER through the local socket in $PGHOST (trust, as in the official
# image): no old password needed.
# Before applying, it makes the roles match the chart, on every start (the chart's init script runs
# only on an empty PGDATA): $SYNC_ROLE exists, logs in, is not a superuser and owns $SYNC_DATABASE;
# $POSTGRES_USER exists. A PGDATA initialised by an older chart has $SYNC_ROLE as initdb's superuser
# and no $POSTGRES_USER: it connects as $SYNC_ROLE once to create $POSTGRES_USER, and says that
# $SYNC_ROLE stays a superuser (PostgreSQL refuses to demote initdb's bootstrap superuser).
# The cleartext never reaches the server, argv or a log: psql's \password reads it on stdin (piped
# from the file by cat) and sends only the SCRAM-SHA-256 verifier it computes (as CloudNativePG
# does); the session also turns off every statement-logging path and activity tracking, so not even
# the verifier is written. The role gets exactly the Secret's bytes: values psql or the shell would
# alter (CR, LF, NUL, empty) are refused, and success is reported only after a login over TCP with
# the Secret's value.
# No double dollar sign here: in a container's command Kubernetes turns it into one (named dollar quotes instead).
set -u
# PID 1 of its container: without a trap the shell ignores SIGTERM and the pod waits its whole grace
# period; sleeping in the background lets the trap run at once.
trap 'exit 0' TERM INT
interval="${CHECK_INTERVAL_SECONDS:-5}"
reverify="${REVERIFY_INTERVAL_SECONDS:-60}"
applied=""      # digest of the file content last applied and verified
verified_at=0   # when the Secret's password last logged in
unreachable=""  # set while the server does not answer (logged once per outage)
last_refusal=""
init_logged=""  # the init-time server was seen (logged once)
# \password reads the controlling terminal when there is one (a manual run in `kubectl exec -it`):
# detach from it so it reads stdin.
detach=""
if (: < /dev/tty) 2>/dev/null; then detach=setsid; fi
log() { echo "[password-sync] $*"; }

# Why the mounted value cannot be applied as it is (nothing when it can).
refusal() {
  if [ ! -r "$PASSWORD_FILE" ]; then
    echo "${PASSWORD_FILE} illisible"
    return
  fi
  size=$(( $(wc -c < "$PASSWORD_FILE") ))
  if [ "$size" -eq 0 ]; then
    # An empty password would CLEAR the role's password (nobody could log in over TCP).
    echo "${PASSWORD_FILE} est vide"
  elif [ $(( $(tr -d '\r\n\000' < "$PASSWORD_FILE" | wc -c) )) -ne "$size" ]; then
    # psql's prompt and the shell drop line ends: the role would get other bytes than the app sends.
    echo "le mot de passe du Secret contient un retour à la ligne (CR/LF) ou un octet NUL, refusé" \
      "(un Secret créé avec --from-file garde le saut de ligne final du fichier : utilisez --from-literal ou printf '%s')"
  fi
}

# The roles as the chart wants them (idempotent; prints one line per change, nothing when none).
ensure_roles_as() {
  LC_MESSAGES=C psql -X -q --no-psqlrc -tA -v ON_ERROR_STOP=1 -v role="$SYNC_ROLE" -v admin="$POSTGRES_USER" \
    -v db="$SYNC_DATABASE" -U "$1" -d postgres 2>&1 <<'EOSQL'
\set VERBOSITY terse
SET lock_timeout = '5s';
SET statement_timeout = '15s';
SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'admin') AS admin_missing,
       NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'role') AS role_missing \gset
\if :admin_missing
CREATE ROLE :"admin" SUPERUSER LOGIN;
\echo 'superutilisateur' :admin 'créé (sans mot de passe : socket local seulement)'
\endif
\if :role_missing
CREATE ROLE :"role" LOGIN NOSUPERUSER;
\echo 'rôle' :role 'créé (pas superutilisateur)'
\endif
SELECT oid = 10 AS bootstrap, rolsuper AS superuser, NOT rolcanlogin AS nologin
FROM pg_catalog.pg_roles WHERE rolname = :'role' \gset
\if :bootstrap
\echo '⚠️  le rôle' :role 'est le superutilisateur d''initdb de ce PGDATA (initialisé par une version précédente du chart) : PostgreSQL refuse de lui retirer SUPERUSER ; recréez le PVC ou migrez les données pour que l''application ne soit plus superutilisateur'
\elif :superuser
ALTER ROLE :"role" NOSUPERUSER;
\echo 'rôle' :role ': SUPERUSER retiré'
\endif
\if :nologin
ALTER ROLE :"role" LOGIN;
\echo 'rôle' :role ': LOGIN rétabli'
\endif
SELECT coalesce(bool_or(pg_catalog.pg_get_userbyid(datdba) <> :'role'), false) AS foreign_owner
FROM pg_catalog.pg_database WHERE datname = :'db' \gset
\if :foreign_owner
ALTER DATABASE :"db" OWNER TO :"role";
\echo 'base' :db ': propriétaire' :role
\endif
EOSQL
}

# On an empty PGDATA the entrypoint runs the init scripts against a temporary server that listens on
# the shared socket only (listen_addresses empty): the chart's init script creates the roles then, so
# nothing is done before the real server is up (a role created here would make that script fail).
initialising() {
  [ "$(psql -X -q --no-psqlrc -tA -U "$POSTGRES_USER" -d postgres \
        -c "SELECT current_setting('listen_addresses') = ''" 2>/dev/null)" = "t" ]
}

ensure_roles() {
  if ! roles_output="$(ensure_roles_as "$POSTGRES_USER")"; then
    case "$roles_output" in
      *"role \"${POSTGRES_USER}\" does not exist"*) roles_output="$(ensure_roles_as "$SYNC_ROLE")" || return 1 ;;
      *) return 1 ;;
    esac
  fi
  if [ -n "$roles_output" ]; then
    printf '%s\n' "$roles_output" | while IFS= read -r line; do log "$line"; done
  fi
}

# Sets the role's password from the file, as a SCRAM-SHA-256 verifier computed by psql.
apply_password() {
  apply_error="$( {
    cat <<'EOSQL'
\set VERBOSITY terse
\set SHOW_CONTEXT never
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET log_min_duration_sample = -1;
SET log_transaction_sample_rate = 0;
SET log_min_error_statement = panic;
SET debug_print_parse = off;
SET debug_print_rewritten = off;
SET debug_print_plan = off;
SET auto_explain.log_min_duration = -1;
SET pg_stat_statements.track_utility = off;
SET track_activities = off;
SET password_encryption = 'scram-sha-256';
SET lock_timeout = '5s';
SET statement_timeout = '15s';
\password :"role"
EOSQL
    cat "$PASSWORD_FILE"; echo
    cat "$PASSWORD_FILE"; echo
    cat <<'EOSQL'
SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_catalog.pg_authid WHERE rolname = :'role' \gset
\if :scram
\else
DO $fail$ BEGIN RAISE EXCEPTION 'le rôle n''a pas reçu de vérificateur SCRAM-SHA-256'; END $fail$;
\endif
EOSQL
  } | LC_MESSAGES=C $detach psql -X -q --no-psqlrc -v ON_ERROR_STOP=1 -v role="$SYNC_ROLE" \
        -U "$POSTGRES_USER" -d postgres 2>&1 >/dev/null)"
}

# Logs in over TCP with the Secret's value, the way the app does (the pod's IP: a PGDATA initialised
# without the chart's initdbArgs trusts 127.0.0.1). libpq >= 16 also refuses a server that does not ask for SCRAM.
verify_login() {
  password="$(cat "$PASSWORD_FILE")"  # exact: refusal() rejected what $(...) would strip
  verify_error="$(PGPASSWORD="$password" PGREQUIREAUTH=scram-sha-256 PGCONNECT_TIMEOUT=5 LC_MESSAGES=C \
    psql -X -q --no-psqlrc -tA -h "$VERIFY_HOST" -U "$SYNC_ROLE" -d postgres -c 'SELECT 1' 2>&1 >/dev/null)"
  status=$?
  unset password
  return $status
}

without_prompts() { printf '%s\n' "$1" | grep -v -e '^Enter new password for user ' -e '^Enter it again: '; }

synchronise() {
  if initialising; then
    if [ -z "$init_logged" ]; then
      log "⏳ initialisation de PGDATA en cours (scripts d'init) : synchronisation quand le serveur sera démarré"
    fi
    init_logged=1
  elif ! ensure_roles; then
    log "⚠️  échec de la mise en conformité des rôles (${SYNC_ROLE}, ${POSTGRES_USER}), nouvelle tentative dans ${interval} s : ${roles_output}"
  elif ! apply_password; then
    log "⚠️  échec de la synchronisation du rôle ${SYNC_ROLE}, nouvelle tentative dans ${interval} s : $(without_prompts "$apply_error")"
  elif ! verify_login; then
    log "❌ mot de passe appliqué au rôle ${SYNC_ROLE} mais la connexion avec le mot de passe du Secret échoue, nouvelle tentative dans ${interval} s : ${verify_error}"
  else
    applied="$1"
    verified_at="$(date +%s)"
    log "✅ mot de passe du rôle ${SYNC_ROLE} synchronisé avec le Secret (connexion vérifiée)"
  fi
}

log "🔑 surveillance du mot de passe du rôle ${SYNC_ROLE} (fichier ${PASSWORD_FILE})"
while :; do
  reason="$(refusal)"
  if [ -n "$reason" ]; then
    if [ "$reason" != "$last_refusal" ]; then
      log "⚠️  ${reason} : mot de passe du rôle ${SYNC_ROLE} non modifié"
    fi
    last_refusal="$reason"
    applied=""
  elif ! pg_isready -q -U "$POSTGRES_USER" -d postgres; then
    if [ -z "$unreachable" ]; then
      log "⚠️  serveur PostgreSQL injoignable (socket ${PGHOST}), nouvelle tentative toutes les ${interval} s"
    fi
    unreachable=1
  else
    if [ -n "$unreachable" ]; then
      log "✅ serveur PostgreSQL joignable"
    fi
    unreachable=""
    last_refusal=""
    # A digest of the file tells a change (no copy of the password kept between checks).
    current="$(sha256sum < "$PASSWORD_FILE" | cut -d ' ' -f 1)"
    if [ "$current" != "$applied" ]; then
      synchronise "$current"
    elif [ $(( $(date +%s) - verified_at )) -ge "$reverify" ]; then
      if verify_login; then
        verified_at="$(date +%s)"
      else
        log "⚠️  le mot de passe du Secret ne permet plus de se connecter au rôle ${SYNC_ROLE} (${verify_error}) : nouvelle application"
        synchronise "$current"
      fi
    fi
  fi
  sleep "$interval" &
  wait $!
done
