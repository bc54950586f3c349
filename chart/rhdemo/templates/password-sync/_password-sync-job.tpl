{{/*
Solution 1 hook Job for one PostgreSQL instance, named like the seed: <name>-password-sync-<revision>.
  seed:   the analysis' Job as written (hook pre-upgrade,pre-install, weight -5, ttl 300 s). It logs in
          with PGPASSWORD = the Secret's password, i.e. the NEW one: after a real rotation it cannot
          connect, prints the analysis' advice (delete the PVC) and exits 1.
  robust: the password is applied inside the database pod (password-sync container); this Job only
          verifies over TCP that the Secret's password logs in. No TTL (Helm 4 waits on the Job
          and treats one deleted by its TTL as never finished). Failed Jobs stay for inspection.
Usage: include "rhdemo.passwordSyncJob" (dict "root" $ "name" "postgresql-rhdemo")
*/}}
{{- define "rhdemo.passwordSyncJob" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $pg := index $root.Values $name -}}
{{- $ns := include "rhdemo.namespace" $root -}}
{{- $mode := $root.Values.passwordSync.mode -}}
{{- $image := include "rhdemo.image" (dict "image" $root.Values.psqlImage "root" $root) -}}
{{- if and (include "rhdemo.postgresql.enabled" (dict "root" $root "name" $name)) (or (eq $mode "seed") (eq $mode "robust")) }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $name }}-password-sync-{{ $root.Release.Revision }}
  namespace: {{ $ns }}
  labels:
    app: {{ $name }}
    component: password-sync
    app.kubernetes.io/instance: {{ $root.Release.Name }}
    app.kubernetes.io/managed-by: {{ $root.Release.Service }}
  annotations:
    "helm.sh/hook": {{ include "rhdemo.passwordSync.hookEvents" $root }}
    "helm.sh/hook-weight": "-5"
    {{- if eq $mode "seed" }}
    "helm.sh/hook-delete-policy": before-hook-creation
    {{- else }}
    "helm.sh/hook-delete-policy": before-hook-creation,hook-succeeded
    {{- end }}
spec:
  {{- if eq $mode "seed" }}
  ttlSecondsAfterFinished: 300
  {{- end }}
  backoffLimit: {{ $root.Values.passwordSync.backoffLimit }}
  template:
    metadata:
      name: {{ $name }}-password-sync
      labels:
        app: {{ $name }}
        component: password-sync
        app.kubernetes.io/instance: {{ $root.Release.Name }}
    spec:
      restartPolicy: Never
      {{- with (include "rhdemo.imagePullSecrets" $root) }}
      {{- . | nindent 6 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.jobPodSecurityContext | nindent 8 }}
      {{- if eq $mode "seed" }}
      initContainers:
      # Attendre que PostgreSQL soit prêt
      {{- include "rhdemo.waitForDb" (dict "root" $root "name" $name) | nindent 6 }}
      {{- end }}
      containers:
      - name: sync-password
        image: {{ $image }}
        imagePullPolicy: {{ $root.Values.psqlImage.pullPolicy }}
        env:
        - name: PGHOST
          value: {{ $pg.database.host | quote }}
        - name: PGPORT
          value: "{{ $pg.service.port }}"
        - name: PGDATABASE
          value: {{ $pg.database.name | quote }}
        - name: PGUSER
          value: {{ $pg.database.user | quote }}
        - name: PGPASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ $pg.database.passwordSecret.name }}
              key: {{ $pg.database.passwordSecret.key }}
        {{- if eq $mode "seed" }}
        - name: NEW_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ $pg.database.passwordSecret.name }}
              key: {{ $pg.database.passwordSecret.key }}
        command:
        - /bin/sh
        - -c
        - |
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
            echo "   Exécutez: kubectl delete statefulset {{ $name }} -n {{ $ns }}"
            echo "   Puis: kubectl delete pvc postgresql-data-{{ $name }}-0 -n {{ $ns }}"
            exit 1
          fi
        {{- else }}
        - name: PGCONNECT_TIMEOUT
          value: "5"
        - name: SECRET_NAME
          value: {{ $pg.database.passwordSecret.name | quote }}
        - name: STATEFULSET
          value: {{ $name | quote }}
        - name: NAMESPACE
          value: {{ $ns | quote }}
        - name: VERIFY_TIMEOUT_SECONDS
          value: {{ $root.Values.passwordSync.verifyTimeoutSeconds | quote }}
        command:
        - /bin/sh
        - -c
        - |
          {{- $root.Files.Get "files/password-verify.sh" | nindent 10 }}
        {{- end }}
        securityContext:
          {{- toYaml $root.Values.containerSecurityContext | nindent 10 }}
        resources:
          {{- toYaml $root.Values.migrations.resources | nindent 10 }}
{{- end }}
{{- end -}}
