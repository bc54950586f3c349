{{/* Hook events of the password-sync Jobs (value passwordSync.hookEvents, else the mode's default). */}}
{{- define "rhdemo.passwordSync.hookEvents" -}}
{{- if .Values.passwordSync.hookEvents -}}
{{- .Values.passwordSync.hookEvents -}}
{{- else if eq .Values.passwordSync.mode "seed" -}}
pre-upgrade,pre-install
{{- else -}}
{{- /* robust: post-, not pre-upgrade: when a release goes from none/seed to robust after a rotation, the
database pod gets its password-sync container only when the upgrade's resources are applied, i.e. after
the pre-upgrade hooks; a pre-upgrade verification would wait for what cannot happen yet. */ -}}
post-install,post-upgrade
{{- end -}}
{{- end -}}

{{/*
Solution 1 hook Job for one PostgreSQL instance, named like the seed: <name>-password-sync-<revision>.
  seed:   the analysis' Job as written (files/password-sync-seed.sh; hook pre-upgrade,pre-install,
          weight -5, ttl 300 s). It logs in with PGPASSWORD = the Secret's password, i.e. the NEW one:
          after a real rotation it cannot connect, prints the analysis' advice (delete the PVC), exits 1.
  robust, alternating: the password is applied inside the database pod (password-sync container); this
          Job only verifies over TCP that the Secret's password logs in (files/password-verify.sh; as
          one of the login roles with alternating), at
          post-install,post-upgrade. No TTL (Helm 4 waits on the Job and treats one deleted by its TTL
          as never finished). Failed Jobs stay for inspection.
Usage: include "rhdemo.passwordSyncJob" (dict "root" $ "name" "postgresql-rhdemo")
*/}}
{{- define "rhdemo.passwordSyncJob" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $pg := index $root.Values $name -}}
{{- $ns := include "rhdemo.namespace" $root -}}
{{- $mode := $root.Values.passwordSync.mode -}}
{{- $labels := dict "root" $root "app" $name "component" "password-sync" -}}
{{- if and (include "rhdemo.postgresql.enabled" .) (has $mode (list "seed" "robust" "alternating")) }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "rhdemo.passwordSync.jobName" . }}
  namespace: {{ $ns }}
  labels:
    {{- include "rhdemo.jobLabels" $labels | nindent 4 }}
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
        {{- include "rhdemo.jobLabels" $labels | nindent 8 }}
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
      {{- include "rhdemo.waitForDb" . | nindent 6 }}
      {{- end }}
      containers:
      - name: sync-password
        image: {{ include "rhdemo.image" (dict "image" $root.Values.psqlImage "root" $root) }}
        imagePullPolicy: {{ $root.Values.psqlImage.pullPolicy }}
        env:
        {{- include "rhdemo.database.env" . | nindent 8 }}
        {{- if eq $mode "seed" }}
        - name: NEW_PASSWORD
          valueFrom:
            {{- include "rhdemo.database.passwordSecretKeyRef" . | nindent 12 }}
        - name: STATEFULSET
          value: {{ $name | quote }}
        - name: PVC
          value: {{ include "rhdemo.postgresql.pvcName" $name | quote }}
        - name: NAMESPACE
          value: {{ $ns | quote }}
        command:
        - /bin/sh
        - -c
        - |
          {{- $root.Files.Get "files/password-sync-seed.sh" | nindent 10 }}
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
        {{- if eq $mode "alternating" }}
        # the Secret's password logs in as one of them: the one the app uses, or the one it switches to
        - name: VERIFY_LOGINS
          value: {{ printf "%s %s" $pg.database.user (include "rhdemo.database.alternateLogins" .) | quote }}
        {{- end }}
        command:
        - /bin/sh
        - -c
        - |
          {{- $root.Files.Get "files/password-verify.sh" | nindent 10 }}
        {{- end }}
        securityContext:
          {{- toYaml $root.Values.containerSecurityContext | nindent 10 }}
        resources:
          {{- toYaml $root.Values.passwordSync.jobResources | nindent 10 }}
{{- end }}
{{- end -}}
