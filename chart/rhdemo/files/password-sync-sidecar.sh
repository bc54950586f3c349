# password-sync (passwordSync.mode=robust or alternating), runs in the PostgreSQL pod next to the server.
# robust ($SYNC_STRATEGY=in-place): applies the password of the mounted Secret file to role $SYNC_ROLE
# whenever the file changes (a rotation through Helm or with kubectl apply; the kubelet refreshes the
# file in place), and every $REVERIFY_INTERVAL_SECONDS checks that the Secret's password still logs in,
# re-applying it when it does not (a manual ALTER ROLE is undone).
# alternating: $SYNC_ROLE owns the database and never changes password; two login roles, $LOGIN_BLUE and
# $LOGIN_GREEN, members of it (each session starts as SET ROLE $SYNC_ROLE, so objects stay its own), take
# turns: a new password goes to the login the app does NOT use, the app is switched to it (the
# password-rotation container patches its Deployment, which rolls), and the previous login is retired
# (NOLOGIN, no password, sessions ended) once no pod uses it. What the app uses comes from
# $ROTATION_DIR/logins (written by password-rotation: active=, in_use=, at=); what is ready for it goes
# to $ROTATION_DIR/ready (login=, digest=). $SYNC_ROLE itself is the first login (a fresh install or a
# release coming from robust) and is retired like the others after the first switch.
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
strategy="${SYNC_STRATEGY:-in-place}"
rotation_dir="${ROTATION_DIR:-/run/rotation}"
retirement="${RETIREMENT:-when-unused}"
applied=""      # digest of the file content last applied and verified
prepared=""     # alternating: the login that holds the Secret's password (written to ready)
waiting=""      # alternating: why the rotation waits (logged once per reason)
retired_for=""  # alternating: the state of the pods the unused logins were last retired for
verified_at=0   # when the Secret's password last logged in
unreachable=""  # set while the server does not answer (logged once per outage)
last_refusal=""
init_logged=""  # the init-time server was seen (logged once)
roles_checked="" # alternating: the roles were made to match the chart once since this container started
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
    -v db="$SYNC_DATABASE" -v strategy="$strategy" -v logins="${LOGIN_BLUE:-} ${LOGIN_GREEN:-}" \
    -U "$1" -d postgres 2>&1 <<'EOSQL'
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
-- alternating: the owner stops logging in once retired; only in-place keeps it a login role
SELECT oid = 10 AS bootstrap, rolsuper AS superuser, NOT rolcanlogin AND :'strategy' = 'in-place' AS nologin
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
-- alternating: the two login roles, members of the owner, each session running as the owner
SELECT count(*) > 0 AS logins_missing FROM unnest(string_to_array(trim(:'logins'), ' ')) AS login
WHERE login <> '' AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = login) \gset
SELECT format('CREATE ROLE %I NOLOGIN NOSUPERUSER IN ROLE %I', login, :'role')
FROM unnest(string_to_array(trim(:'logins'), ' ')) AS login
WHERE login <> '' AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = login) \gexec
SELECT format('GRANT %I TO %I', :'role', login) FROM unnest(string_to_array(trim(:'logins'), ' ')) AS login
WHERE login <> '' AND NOT pg_catalog.pg_has_role(login, :'role', 'MEMBER') \gexec
SELECT format('ALTER ROLE %I SET role = %L', login, :'role') FROM unnest(string_to_array(trim(:'logins'), ' ')) AS login
WHERE login <> '' AND NOT EXISTS (
  SELECT FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
  WHERE r.rolname = login AND s.setdatabase = 0 AND format('role=%s', :'role') = ANY (s.setconfig)) \gexec
\if :logins_missing
\echo 'rôles de connexion' :logins 'créés (membres de' :role ', sans connexion tant qu''ils n''ont pas de mot de passe)'
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

# Sets login role $1's password from the file, as a SCRAM-SHA-256 verifier computed by psql.
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
ALTER ROLE :"role" LOGIN;
EOSQL
  } | LC_MESSAGES=C $detach psql -X -q --no-psqlrc -v ON_ERROR_STOP=1 -v role="$1" \
        -U "$POSTGRES_USER" -d postgres 2>&1 >/dev/null)"
}

# Logs in as $1 (default $SYNC_ROLE) over TCP with the Secret's value, the way the app does (the pod's IP:
# a PGDATA initialised without the chart's initdbArgs trusts 127.0.0.1). libpq >= 16 also refuses a server
# that does not ask for SCRAM.
verify_login() {
  password="$(cat "$PASSWORD_FILE")"  # exact: refusal() rejected what $(...) would strip
  verify_error="$(PGPASSWORD="$password" PGREQUIREAUTH=scram-sha-256 PGCONNECT_TIMEOUT=5 LC_MESSAGES=C \
    psql -X -q --no-psqlrc -tA -h "$VERIFY_HOST" -U "${1:-$SYNC_ROLE}" -d postgres -c 'SELECT 1' 2>&1 >/dev/null)"
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
  elif ! apply_password "$SYNC_ROLE"; then
    log "⚠️  échec de la synchronisation du rôle ${SYNC_ROLE}, nouvelle tentative dans ${interval} s : $(without_prompts "$apply_error")"
  elif ! verify_login; then
    log "❌ mot de passe appliqué au rôle ${SYNC_ROLE} mais la connexion avec le mot de passe du Secret échoue, nouvelle tentative dans ${interval} s : ${verify_error}"
  else
    applied="$1"
    verified_at="$(date +%s)"
    log "✅ mot de passe du rôle ${SYNC_ROLE} synchronisé avec le Secret (connexion vérifiée)"
  fi
}

# ---- alternating ----------------------------------------------------------------------------------
# Reads $ROTATION_DIR/logins into $active and $in_use; fails when it is missing, malformed or stale
# (password-rotation cannot reach the API server: what the pods use is unknown, so nothing is switched
# or retired meanwhile).
read_logins() {
  active=""; in_use=""; at=""
  [ -r "${rotation_dir}/logins" ] || return 1
  while IFS='=' read -r key value; do
    case "$key" in
      active) active="$value" ;;
      in_use) in_use="$value" ;;
      at) at="$value" ;;
    esac
  done < "${rotation_dir}/logins"
  case "$at" in ''|*[!0-9]*) return 1 ;; esac
  case "$active" in "$SYNC_ROLE"|"$LOGIN_BLUE"|"$LOGIN_GREEN") ;; *) return 1 ;; esac
  [ $(( $(date +%s) - at )) -le $(( interval * 6 + 30 )) ]
}

in_use() { case " ${in_use} " in *" $1 "*) return 0 ;; esac; return 1; }

# The login the next password goes to: the one the app does not use.
standby_of() { if [ "$1" = "$LOGIN_BLUE" ]; then echo "$LOGIN_GREEN"; else echo "$LOGIN_BLUE"; fi; }

wait_because() {
  if [ "$1" != "$waiting" ]; then log "⏳ $1"; fi
  waiting="$1"
}

write_ready() {
  printf 'login=%s\ndigest=%s\n' "$1" "$2" > "${rotation_dir}/.ready.tmp" && mv -f "${rotation_dir}/.ready.tmp" "${rotation_dir}/ready"
}

# Login role $1 no longer logs in: NOLOGIN, no password, its sessions ended. Prints what it did.
retire_login() {
  LC_MESSAGES=C psql -X -q --no-psqlrc -tA -v ON_ERROR_STOP=1 -v login="$1" -U "$POSTGRES_USER" -d postgres 2>&1 <<'EOSQL'
\set VERBOSITY terse
SET lock_timeout = '5s';
SET statement_timeout = '15s';
SELECT coalesce(bool_or(rolcanlogin OR rolpassword IS NOT NULL), false) AS usable
FROM pg_catalog.pg_authid WHERE rolname = :'login' \gset
\if :usable
ALTER ROLE :"login" NOLOGIN PASSWORD NULL;
SELECT count(pg_catalog.pg_terminate_backend(pid)) AS ended FROM pg_catalog.pg_stat_activity WHERE usename = :'login' \gset
\echo 'rôle' :login 'retiré (NOLOGIN, plus de mot de passe,' :ended 'session(s) terminée(s))'
\endif
EOSQL
}

retire_unused() {
  # once per state of the pods (and every re-verification), not every few seconds
  state="${active}|${prepared}|${in_use}|$(( $(date +%s) / reverify ))"
  [ "$state" = "$retired_for" ] && return
  retired_for="$state"
  for login in "$SYNC_ROLE" "$LOGIN_BLUE" "$LOGIN_GREEN"; do
    [ "$login" = "$active" ] && continue
    [ "$login" = "$prepared" ] && continue
    # retirement=immediately: the previous login goes as soon as the app is switched, pods still on it or
    # not (a demonstration of why the default waits: their next connection fails)
    if [ "$retirement" != "immediately" ] && in_use "$login"; then continue; fi
    if output="$(retire_login "$login")"; then
      if [ -n "$output" ]; then log "🔒 ${output}"; fi
    else
      log "⚠️  échec du retrait du rôle ${login} : ${output}"
      retired_for=""
    fi
  done
}

alternate() {
  if ! read_logins; then
    wait_because "rôle utilisé par l'app inconnu (fichier ${rotation_dir}/logins absent ou périmé : voir le conteneur password-rotation)"
    return
  fi
  if [ "$1" = "$applied" ] && [ "$prepared" = "$active" ]; then
    waiting=""
    if [ $(( $(date +%s) - verified_at )) -ge "$reverify" ]; then
      if verify_login "$active"; then
        verified_at="$(date +%s)"
      else
        log "⚠️  le mot de passe du Secret ne permet plus de se connecter au rôle ${active} (${verify_error}) : nouvelle rotation"
        applied=""
      fi
    fi
  elif [ "$1" = "$applied" ]; then
    wait_because "le rôle ${prepared} a le mot de passe du Secret : en attente de la bascule de l'app (${active} aujourd'hui)"
  elif verify_login "$active"; then
    applied="$1"; prepared="$active"; verified_at="$(date +%s)"; waiting=""
    write_ready "$active" "$1"
    log "✅ le mot de passe du Secret ouvre une session en tant que ${active}, le rôle qu'utilise l'app"
  else
    standby="$(standby_of "$active")"
    if in_use "$standby"; then
      wait_because "rotation en attente : des pods utilisent encore le rôle ${standby} (déploiement en cours)"
    elif ! ensure_roles; then
      log "⚠️  échec de la mise en conformité des rôles, nouvelle tentative dans ${interval} s : ${roles_output}"
    elif ! apply_password "$standby"; then
      log "⚠️  échec de l'application du mot de passe au rôle ${standby}, nouvelle tentative dans ${interval} s : $(without_prompts "$apply_error")"
    elif ! verify_login "$standby"; then
      log "❌ mot de passe appliqué au rôle ${standby} mais la connexion échoue, nouvelle tentative dans ${interval} s : ${verify_error}"
    else
      applied="$1"; prepared="$standby"; verified_at="$(date +%s)"; waiting=""
      write_ready "$standby" "$1"
      log "🔁 nouveau mot de passe du Secret appliqué au rôle ${standby} (connexion vérifiée) : l'app bascule dessus ; ${active} reste valide tant qu'un pod l'utilise"
    fi
  fi
  retire_unused
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
    if [ "$strategy" = "alternating" ]; then
      if [ -z "$roles_checked" ] && ! initialising; then
        if ensure_roles; then roles_checked=1; fi
      fi
      if [ -n "$roles_checked" ]; then alternate "$current"; fi
    elif [ "$current" != "$applied" ]; then
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
