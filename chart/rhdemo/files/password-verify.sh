# Verifies over TCP that the Secret's password logs in (passwordSync.mode=robust or alternating: hook Job
# and the wait-for-db initContainer).
# The password-sync container of the database pod applies it; this only waits for the result,
# up to $VERIFY_TIMEOUT_SECONDS. PGPASSWORD comes from the Secret (environment, never argv).
set -u
deadline=$(( $(date +%s) + ${VERIFY_TIMEOUT_SECONDS:-240} ))
echo "🔑 Vérification du mot de passe de ${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE} (Secret ${SECRET_NAME})..."
while :; do
  # alternating: any of $VERIFY_LOGINS (the login the app uses, or the one it is being switched to)
  for login in ${VERIFY_LOGINS:-$PGUSER}; do
    if error="$(PGUSER="$login" psql -X -q --no-psqlrc -tA -c 'SELECT 1' 2>&1 >/dev/null)"; then
      echo "✅ Connexion réussie avec le mot de passe du Secret ${SECRET_NAME} (rôle ${login})"
      exit 0
    fi
  done
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "❌ Le mot de passe du Secret ${SECRET_NAME} ne permet pas de se connecter après ${VERIFY_TIMEOUT_SECONDS:-240} s"
    echo "   Dernière erreur : ${error}"
    echo "   Vérifiez le conteneur password-sync : kubectl logs statefulset/${STATEFULSET} -c password-sync -n ${NAMESPACE}"
    exit 1
  fi
  echo "⏳ Mot de passe pas encore appliqué (${error}), nouvelle tentative dans ${VERIFY_INTERVAL_SECONDS:-5} s"
  sleep "${VERIFY_INTERVAL_SECONDS:-5}"
done
