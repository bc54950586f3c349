{{/*
Shared helpers of the rhdemo chart (Bitnami style: images, labels, secrets, hook phases).
*/}}

{{/* Namespace of every object (the seed's global.namespace). */}}
{{- define "rhdemo.namespace" -}}
{{- .Values.global.namespace | default .Release.Namespace -}}
{{- end -}}

{{/*
Full image reference. Usage: include "rhdemo.image" (dict "image" .Values.x.image "root" $)
global.imageRegistry replaces every registry; an empty registry leaves the repository as is.
*/}}
{{- define "rhdemo.image" -}}
{{- if eq (toString .image.tag) "latest" -}}
{{- fail (printf "image %s: the tag 'latest' is refused, pin a version" .image.repository) -}}
{{- end -}}
{{- $registry := .root.Values.global.imageRegistry | default .image.registry -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository (toString .image.tag) -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Common labels. Usage: include "rhdemo.labels" (dict "root" $ "app" "rhdemo-app" "component" "app") */}}
{{- define "rhdemo.labels" -}}
app: {{ .app }}
app.kubernetes.io/name: {{ .app }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: rhdemo
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels (immutable on Deployments and StatefulSets). */}}
{{- define "rhdemo.selectorLabels" -}}
app: {{ .app }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "rhdemo.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets -}}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
The value a chart-managed Secret key must hold, resolved once per render:
  1. the value given in values (a rotation through Helm);
  2. else the live Secret's value (lookup), so `helm upgrade` after a `kubectl apply` of the Secret
     keeps the rotated value instead of reverting it (Helm 3 three-way merge) or conflicting with
     kubectl's field manager (Helm 4 server-side apply);
  3. else a random value (first install).
Memoised in .Values so the Secret and the pods' checksum see the same generated value.
Usage: include "rhdemo.secretValue" (dict "root" $ "secret" "name" "key" "password" "given" .Values...)
*/}}
{{- define "rhdemo.secretValue" -}}
{{- if not (hasKey .root.Values "__rhdemoResolvedSecrets") -}}
{{- $_ := set .root.Values "__rhdemoResolvedSecrets" (dict) -}}
{{- end -}}
{{- $cache := index .root.Values "__rhdemoResolvedSecrets" -}}
{{- $cacheKey := printf "%s/%s" .secret .key -}}
{{- if not (hasKey $cache $cacheKey) -}}
{{- $value := toString (.given | default "") -}}
{{- if not $value -}}
{{- $live := lookup "v1" "Secret" (include "rhdemo.namespace" .root) .secret -}}
{{- if and $live $live.data (hasKey $live.data .key) -}}
{{- $value = index $live.data .key | b64dec -}}
{{- else -}}
{{- $value = randAlphaNum 24 -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cache $cacheKey $value -}}
{{- end -}}
{{- index $cache $cacheKey -}}
{{- end -}}

{{/*
Checksum of what a pod reads from a Secret key, so the pod template changes (and the pods roll)
when the value changes, also when the Secret was changed outside Helm. The annotation is readable by
anyone who may read pods (the `view` role, which may not read Secrets), so it reveals nothing:
  - chart-managed Secret (create: true): SHA-256 of a random key and the resolved value. The key is
    kept in the Secret rhdemo-checksum-key (lookup), so it survives upgrades and an unchanged
    password keeps the annotation;
  - external Secret (create: false): SHA-256 of the live Secret's uid and resourceVersion (it changes
    whenever the Secret is written, and only then). A missing or empty Secret fails the render when
    the chart sees the cluster; under `helm template` (no cluster) nothing can be looked up.
Usage: include "rhdemo.secretChecksum" (dict "root" $ "secret" "n" "key" "k" "create" true "given" "")
*/}}
{{- define "rhdemo.secretChecksum" -}}
{{- if .create -}}
{{- printf "%s:%s" (include "rhdemo.checksumKey" .root) (include "rhdemo.secretValue" .) | sha256sum -}}
{{- else -}}
{{- $live := include "rhdemo.externalSecret" . | fromJson -}}
{{- if $live.metadata -}}
{{- printf "%s:%s" $live.metadata.uid $live.metadata.resourceVersion | sha256sum -}}
{{- else -}}
not-looked-up
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The random key of the checksum annotations: checksumKey, else the live rhdemo-checksum-key, else new
(also when the live one was emptied: an empty key would make the annotations plain SHA-256 again).
*/}}
{{- define "rhdemo.checksumKey" -}}
{{- $key := include "rhdemo.secretValue" (dict "root" . "secret" "rhdemo-checksum-key" "key" "key" "given" .Values.checksumKey) -}}
{{- if not $key -}}
{{- $key = randAlphaNum 24 -}}
{{- $_ := set (index .Values "__rhdemoResolvedSecrets") "rhdemo-checksum-key/key" $key -}}
{{- end -}}
{{- $key -}}
{{- end -}}

{{/*
The live external Secret (create: false) as JSON, "{}" when it cannot be looked up. When the chart
sees the cluster (the namespace's kube-root-ca.crt ConfigMap, which Kubernetes publishes in every
namespace, is readable), a missing Secret or an empty key fails the render: the pods would otherwise
wait in CreateContainerConfigError, or the database would get an empty password.
*/}}
{{- define "rhdemo.externalSecret" -}}
{{- $ns := include "rhdemo.namespace" .root -}}
{{- $live := lookup "v1" "Secret" $ns .secret -}}
{{- if lookup "v1" "ConfigMap" $ns "kube-root-ca.crt" -}}
{{- if not $live -}}
{{- fail (printf "Secret %s/%s not found: with passwordSecret.create=false it must exist before the release (key %q holding the password)" $ns .secret .key) -}}
{{- end -}}
{{- if not (index ($live.data | default dict) .key | default "" | b64dec) -}}
{{- fail (printf "Secret %s/%s: key %q is missing or empty (with passwordSecret.create=false it must hold the password)" $ns .secret .key) -}}
{{- end -}}
{{- end -}}
{{- $live | default dict | toJson -}}
{{- end -}}

{{/* Hook events of the password-sync Jobs (value passwordSync.hookEvents, else the mode's default). */}}
{{- define "rhdemo.passwordSync.hookEvents" -}}
{{- if .Values.passwordSync.hookEvents -}}
{{- .Values.passwordSync.hookEvents -}}
{{- else if eq .Values.passwordSync.mode "seed" -}}
pre-upgrade,pre-install
{{- else -}}
post-install,post-upgrade
{{- end -}}
{{- end -}}

{{/*
Hook events of the migration Jobs (sql-job, flyway-job); empty = not a hook.
Default: on install the Job is a regular resource of the release (created with the database, it
waits for it; a pre-install hook would wait for a database not created yet, and a post-install hook
never runs under `helm install --wait` while the app waits for the schema); on upgrade a pre-upgrade
hook, so the schema is migrated before the new app rolls. migrations.hookEvents overrides both
(e.g. "pre-install,pre-upgrade" reproduces the seed's first-install deadlock).
*/}}
{{- define "rhdemo.migrations.hookEvents" -}}
{{- if .Values.migrations.hookEvents -}}
{{- .Values.migrations.hookEvents -}}
{{- else if not .Release.IsInstall -}}
pre-upgrade
{{- end -}}
{{- end -}}

{{/* Hook metadata of a migration Job (nothing when it is a regular resource). */}}
{{- define "rhdemo.migrations.jobHookAnnotations" -}}
{{- with include "rhdemo.migrations.hookEvents" . -}}
annotations:
  "helm.sh/hook": {{ . }}
  "helm.sh/hook-weight": "0"
  "helm.sh/hook-delete-policy": before-hook-creation,hook-succeeded
{{- end -}}
{{- end -}}

{{/* Spring's ddl-auto for the chosen migrations.mode. */}}
{{- define "rhdemo.ddlAuto" -}}
{{- if eq .Values.migrations.mode "hibernate-update" -}}
update
{{- else -}}
{{- .Values.rhdemo.jpa.ddlAuto -}}
{{- end -}}
{{- end -}}

{{/* JDBC URL of the app's database. */}}
{{- define "rhdemo.jdbcUrl" -}}
{{- printf "jdbc:postgresql://%s:%v/%s" .Values.rhdemo.database.host .Values.rhdemo.database.port .Values.rhdemo.database.name -}}
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
  {{- if eq $root.Values.passwordSync.mode "robust" }}
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
    {{- toYaml $root.Values.migrations.resources | nindent 4 }}
{{- end -}}

{{/* "true" when the PostgreSQL instance is rendered (postgresql-keycloak only serves Keycloak). */}}
{{- define "rhdemo.postgresql.enabled" -}}
{{- $pg := index .root.Values .name -}}
{{- if and $pg.enabled (or (ne .name "postgresql-keycloak") .root.Values.keycloak.enabled) -}}true{{- end -}}
{{- end -}}

{{/*
Versions the migration Job records for migrations.files: sql-job records the file name without
.sql; Flyway the version of V<version>__<description>.sql ("_" read as "."; repeatables have none).
*/}}
{{- define "rhdemo.migrations.expectedVersions" -}}
{{- $versions := list -}}
{{- range $file, $content := .Values.migrations.files -}}
{{- if eq $.Values.migrations.mode "sql-job" -}}
{{- $versions = append $versions (trimSuffix ".sql" $file) -}}
{{- else if regexMatch "^V.+?__" $file -}}
{{- $versions = append $versions (regexReplaceAll "^V(.+?)__.*$" $file "${1}" | replace "_" ".") -}}
{{- end -}}
{{- end -}}
{{- join " " $versions -}}
{{- end -}}
