# password-sync (passwordSync.mode=robust), runs in the PostgreSQL pod next to the server.
# Applies the password of the mounted Secret file to role $SYNC_ROLE whenever the file changes
# (a rotation through Helm or with kubectl apply; the kubelet refreshes the file in place).
# It connects as $POSTGRES_USER through the local socket in $PGHOST (trust, as in the official
# image): no old password needed. The password never reaches argv, the environment or a log:
# psql reads it from the file (\set pw `cat ...`) and quotes it as a literal (:'pw').
set -u
# PID 1 of its container: without a trap the shell ignores SIGTERM and the pod waits its whole grace
# period; sleeping in the background lets the trap run at once.
trap 'exit 0' TERM INT
interval="${CHECK_INTERVAL_SECONDS:-5}"
applied=""
log() { echo "[password-sync] $*"; }
log "🔑 surveillance du mot de passe du rôle ${SYNC_ROLE} (fichier ${PASSWORD_FILE})"
while :; do
  if [ ! -r "$PASSWORD_FILE" ]; then
    log "⚠️  ${PASSWORD_FILE} illisible, nouvelle tentative dans ${interval} s"
  elif [ ! -s "$PASSWORD_FILE" ]; then
    # An empty password would CLEAR the role's password (nobody could log in over TCP): refuse.
    log "⚠️  ${PASSWORD_FILE} est vide : mot de passe non modifié"
  else
    # A digest of the file tells a change without keeping the password in a variable.
    current="$(sha256sum < "$PASSWORD_FILE" | cut -d ' ' -f 1)"
    if [ "$current" != "$applied" ] && pg_isready -q -U "$POSTGRES_USER" -d postgres; then
      if psql -X -q --no-psqlrc -v ON_ERROR_STOP=1 -v role="$SYNC_ROLE" \
          -U "$POSTGRES_USER" -d postgres >/dev/null <<'EOSQL'
\set VERBOSITY terse
\set SHOW_CONTEXT never
SET log_statement = 'none';
SET log_min_error_statement = panic;
SET log_min_duration_statement = -1;
\set pw `cat "$PASSWORD_FILE"`
ALTER ROLE :"role" WITH PASSWORD :'pw';
\unset pw
EOSQL
      then
        applied="$current"
        log "✅ mot de passe du rôle ${SYNC_ROLE} synchronisé avec le Secret"
      else
        log "⚠️  échec de la synchronisation du rôle ${SYNC_ROLE}, nouvelle tentative dans ${interval} s"
      fi
    fi
  fi
  sleep "$interval" &
  wait $!
done
