# Solution 1 of the analysis as written (passwordSync.mode=seed), kept to show where it fails: it
# logs in with PGPASSWORD = the Secret's password, i.e. the NEW one, so after a real rotation it cannot
# connect, prints the analysis' advice (delete the StatefulSet and the PVC) and exits 1; and it puts
# the password into the SQL text (a quote breaks it). Env: PG* (libpq), NEW_PASSWORD, STATEFULSET, PVC, NAMESPACE.
set -e
echo "🔑 Synchronisation du mot de passe PostgreSQL..."

# Tenter de se connecter avec le mot de passe actuel
if psql -c "SELECT 1" > /dev/null 2>&1; then
  echo "✅ Connexion réussie avec le mot de passe actuel"

  # Mettre à jour le mot de passe (idempotent)
  psql -c "ALTER USER ${PGUSER} WITH PASSWORD '${NEW_PASSWORD}';"
  echo "✅ Mot de passe synchronisé"
else
  echo "⚠️  Impossible de se connecter - Le mot de passe nécessite une réinitialisation manuelle"
  echo "   Exécutez: kubectl delete statefulset ${STATEFULSET} -n ${NAMESPACE}"
  echo "   Puis: kubectl delete pvc ${PVC} -n ${NAMESPACE}"
  exit 1
fi
