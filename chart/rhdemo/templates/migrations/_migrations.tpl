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

{{/*
The ConfigMap of migrations.files (schema-migrations / flyway-migrations). A pre-install,pre-upgrade
hook (it needs no database, so pre-install cannot deadlock): it exists before the Job in every phase,
and a pre-upgrade Job reads the NEW files (regular resources are updated only after the pre-upgrade
hooks). Kept (before-hook-creation only) so it can be inspected.
*/}}
{{- define "rhdemo.migrations.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "rhdemo.migrations.configMapName" . }}
  namespace: {{ include "rhdemo.namespace" . }}
  labels:
    {{- include "rhdemo.jobLabels" (dict "root" . "app" "rhdemo" "component" (include "rhdemo.migrations.component" .)) | nindent 4 }}
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "-10"
    "helm.sh/hook-delete-policy": before-hook-creation
data:
  {{- toYaml .Values.migrations.files | nindent 2 }}
{{- end -}}
