{{/*
Connections to the PostgreSQL instances. Everything that connects to one (the app, Keycloak, the
migration and password-sync Jobs, the wait-for-* initContainers) takes host, port, database, user and
password Secret from the instance's values (`postgresql-rhdemo.database.*`, `.service.port`), here.
*/}}

{{/*
The instance the app uses: its datasource, its migrations (sql-job, flyway-job, init-container) and
its wait-for-db / wait-for-schema initContainers all connect to it.
*/}}
{{- define "rhdemo.app.databaseInstance" -}}postgresql-rhdemo{{- end -}}

{{/* The instance Keycloak uses (rendered only with keycloak.enabled). */}}
{{- define "rhdemo.keycloak.databaseInstance" -}}postgresql-keycloak{{- end -}}

{{/* "true" when the PostgreSQL instance is rendered (postgresql-keycloak only serves Keycloak). Usage: (dict "root" $ "name" ...) */}}
{{- define "rhdemo.postgresql.enabled" -}}
{{- $pg := index .root.Values .name -}}
{{- if and $pg.enabled (or (ne .name "postgresql-keycloak") .root.Values.keycloak.enabled) -}}true{{- end -}}
{{- end -}}

{{/* JDBC URL of an instance. Usage: include "rhdemo.database.jdbcUrl" (dict "root" $ "name" "postgresql-rhdemo") */}}
{{- define "rhdemo.database.jdbcUrl" -}}
{{- $pg := index .root.Values .name -}}
{{- printf "jdbc:postgresql://%s:%v/%s" $pg.database.host $pg.service.port $pg.database.name -}}
{{- end -}}

{{/* secretKeyRef of an instance's password. Usage: include "rhdemo.database.passwordSecretKeyRef" (dict "root" $ "name" ...) */}}
{{- define "rhdemo.database.passwordSecretKeyRef" -}}
{{- $secret := (index .root.Values .name).database.passwordSecret -}}
secretKeyRef:
  name: {{ $secret.name }}
  key: {{ $secret.key }}
{{- end -}}

{{/*
passwordSync.mode=alternating: the consumer's pods say which login role they use in this annotation of
their template (password-rotation switches it; their username env vars read it through the downward API).
*/}}
{{- define "rhdemo.database.loginAnnotation" -}}rhdemo.io/db-login{{- end -}}

{{/* The Deployment whose pods use an instance: Keycloak for postgresql-keycloak, else the app. Usage: (dict "root" $ "name" ...) */}}
{{- define "rhdemo.database.consumer" -}}
{{- if eq .name (include "rhdemo.keycloak.databaseInstance" .root) -}}
{{- include "rhdemo.keycloak.fullname" .root -}}
{{- else -}}
{{- include "rhdemo.app.fullname" .root -}}
{{- end -}}
{{- end -}}

{{/* The two login roles that take turns (alternating), space-separated: <user>_blue <user>_green. */}}
{{- define "rhdemo.database.alternateLogins" -}}
{{- $user := (index .root.Values .name).database.user -}}
{{- printf "%s_blue %s_green" $user $user -}}
{{- end -}}

{{/*
The role a client logs in as. alternating: the one the consumer's live Deployment uses (password-rotation
switches it; on a first install, or with `helm template`, database.user); otherwise database.user.
*/}}
{{- define "rhdemo.database.login" -}}
{{- $login := (index .root.Values .name).database.user -}}
{{- if eq .root.Values.passwordSync.mode "alternating" -}}
{{- $live := lookup "apps/v1" "Deployment" (include "rhdemo.namespace" .root) (include "rhdemo.database.consumer" .) | default dict -}}
{{- $annotations := dig "spec" "template" "metadata" "annotations" dict $live -}}
{{- $login = index $annotations (include "rhdemo.database.loginAnnotation" .root) | default $login -}}
{{- end -}}
{{- $login -}}
{{- end -}}

{{/*
The value of a username env var: in the consumer's own pods (annotated) under alternating, the pod's
annotation (downward API: the pods of one rollout all use the login their template names), else the login.
Usage: include "rhdemo.database.userValue" (dict "root" $ "name" ... "annotated" true)
*/}}
{{- define "rhdemo.database.userValue" -}}
{{- if and .annotated (eq .root.Values.passwordSync.mode "alternating") -}}
valueFrom:
  fieldRef:
    fieldPath: metadata.annotations['{{ include "rhdemo.database.loginAnnotation" .root }}']
{{- else -}}
value: {{ include "rhdemo.database.login" . | quote }}
{{- end -}}
{{- end -}}

{{/* libpq environment (PGHOST..PGPASSWORD) of a psql container. Usage: include "rhdemo.database.env" (dict "root" $ "name" ... ["annotated" true]) */}}
{{- define "rhdemo.database.env" -}}
{{- $pg := index .root.Values .name -}}
- name: PGHOST
  value: {{ $pg.database.host | quote }}
- name: PGPORT
  value: "{{ $pg.service.port }}"
- name: PGDATABASE
  value: {{ $pg.database.name | quote }}
- name: PGUSER
  {{- include "rhdemo.database.userValue" . | nindent 2 }}
- name: PGPASSWORD
  valueFrom:
    {{- include "rhdemo.database.passwordSecretKeyRef" . | nindent 4 }}
{{- end -}}

{{/*
Checksum of an instance's password for a pod template (see rhdemo.secretChecksum): the value this
release writes when the chart renders the Secret, else the live Secret's.
Usage: include "rhdemo.database.passwordChecksum" (dict "root" $ "name" ...)
*/}}
{{- define "rhdemo.database.passwordChecksum" -}}
{{- $pg := index .root.Values .name -}}
{{- $secret := $pg.database.passwordSecret -}}
{{- $managed := and (include "rhdemo.postgresql.enabled" .) $secret.create -}}
{{- include "rhdemo.secretChecksum" (dict "root" .root "secret" $secret.name "key" $secret.key "create" $managed "given" $pg.database.password) -}}
{{- end -}}

{{/*
wait-for-db initContainer. With passwordSync.mode=robust it waits until the Secret's password logs
in over TCP (the database pod applies it; waiting here keeps the pods from crash-looping meanwhile);
otherwise it is the seed's pg_isready loop.
Usage: include "rhdemo.waitForDb" (dict "root" $ "name" "postgresql-rhdemo")
*/}}
{{- define "rhdemo.waitForDb" -}}
{{- $root := .root -}}
{{- $pg := index $root.Values .name -}}
- name: wait-for-db
  image: {{ include "rhdemo.image" (dict "image" $root.Values.psqlImage "root" $root) }}
  imagePullPolicy: {{ $root.Values.psqlImage.pullPolicy }}
  {{- if has $root.Values.passwordSync.mode (list "robust" "alternating") }}
  env:
  {{- include "rhdemo.database.env" . | nindent 2 }}
  - name: PGCONNECT_TIMEOUT
    value: "5"
  - name: SECRET_NAME
    value: {{ $pg.database.passwordSecret.name | quote }}
  - name: STATEFULSET
    value: {{ .name | quote }}
  - name: NAMESPACE
    value: {{ include "rhdemo.namespace" $root | quote }}
  - name: VERIFY_TIMEOUT_SECONDS
    value: {{ $root.Values.passwordSync.verifyTimeoutSeconds | quote }}
  command:
  - /bin/sh
  - -c
  - |
    {{- $root.Files.Get "files/password-verify.sh" | nindent 4 }}
  {{- else }}
  command:
  - /bin/sh
  - -c
  - |
    until pg_isready -h {{ $pg.database.host }} -p {{ $pg.service.port }} -U {{ $pg.database.user }}; do
      echo "Waiting for PostgreSQL..."
      sleep 2
    done
    echo "PostgreSQL is ready"
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml $root.Values.waitContainers.resources | nindent 4 }}
{{- end -}}
