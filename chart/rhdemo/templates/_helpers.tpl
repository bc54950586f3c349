{{/*
Shared helpers of the rhdemo chart (Bitnami style): namespace, object names, labels, images.
Secrets are in _secrets.tpl, database connections in _database.tpl, value checks in _validations.tpl.
*/}}

{{/* Namespace of every object (the seed's global.namespace). */}}
{{- define "rhdemo.namespace" -}}
{{- .Values.global.namespace | default .Release.Namespace -}}
{{- end -}}

{{/*
Object names. They are the seed's fixed names (not prefixed by the release: the analysis, the scenarios
and the lab refer to them), each derived here once.
*/}}
{{- define "rhdemo.app.fullname" -}}rhdemo-app{{- end -}}
{{- define "rhdemo.app.configMapName" -}}{{ include "rhdemo.app.fullname" . }}-config{{- end -}}
{{- define "rhdemo.keycloak.fullname" -}}keycloak{{- end -}}
{{- define "rhdemo.checksumKey.secretName" -}}rhdemo-checksum-key{{- end -}}

{{/* The `<instance>-init` ConfigMap of a PostgreSQL instance. Usage: include "rhdemo.postgresql.initConfigMapName" "postgresql-rhdemo" */}}
{{- define "rhdemo.postgresql.initConfigMapName" -}}{{ . }}-init{{- end -}}

{{/* Key of the chart's own init script in that ConfigMap: sorts before the values' initScripts. */}}
{{- define "rhdemo.postgresql.appRoleScriptName" -}}000-app-role.sh{{- end -}}

{{/* Solution 1 Job of an instance, one per revision. Usage: include "rhdemo.passwordSync.jobName" (dict "root" $ "name" "postgresql-rhdemo") */}}
{{- define "rhdemo.passwordSync.jobName" -}}
{{- printf "%s-password-sync-%d" .name (int .root.Release.Revision) -}}
{{- end -}}

{{/* What the migration objects of migrations.mode are called: schema-migration (sql-job), flyway-migration (flyway-job). */}}
{{- define "rhdemo.migrations.component" -}}
{{- ternary "schema-migration" "flyway-migration" (eq .Values.migrations.mode "sql-job") -}}
{{- end -}}

{{/* Migration Job, one per revision: schema-migration-<rev> / flyway-migration-<rev>. */}}
{{- define "rhdemo.migrations.jobName" -}}
{{- printf "%s-%d" (include "rhdemo.migrations.component" .) (int .Release.Revision) -}}
{{- end -}}

{{/* ConfigMap of migrations.files: schema-migrations / flyway-migrations. */}}
{{- define "rhdemo.migrations.configMapName" -}}
{{- include "rhdemo.migrations.component" . -}}s
{{- end -}}

{{/* A `helm test` pod. Usage: include "rhdemo.tests.podName" (dict "root" $ "check" "health") */}}
{{- define "rhdemo.tests.podName" -}}
{{- printf "%s-test-%s" (include "rhdemo.app.fullname" .root) .check -}}
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

{{/*
Labels of Jobs, their pods, their ConfigMaps and the test pods: the common labels plus the short
`component` label the scenarios select their pods by (e.g. component=schema-migration).
Usage: include "rhdemo.jobLabels" (dict "root" $ "app" "rhdemo" "component" "schema-migration")
*/}}
{{- define "rhdemo.jobLabels" -}}
{{ include "rhdemo.labels" . }}
component: {{ .component }}
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

{{/* Spring's ddl-auto for the chosen migrations.mode. */}}
{{- define "rhdemo.ddlAuto" -}}
{{- if eq .Values.migrations.mode "hibernate-update" -}}
update
{{- else -}}
{{- .Values.rhdemo.jpa.ddlAuto -}}
{{- end -}}
{{- end -}}

{{/* The volumeClaimTemplate of a PostgreSQL StatefulSet, and the PVC it gives its only pod. Usage: include ... "postgresql-rhdemo" */}}
{{- define "rhdemo.postgresql.dataVolumeName" -}}postgresql-data{{- end -}}
{{- define "rhdemo.postgresql.pvcName" -}}{{ include "rhdemo.postgresql.dataVolumeName" . }}-{{ . }}-0{{- end -}}

{{/* The ServiceAccount, Role and RoleBinding of an instance's password-rotation container (alternating). */}}
{{- define "rhdemo.passwordRotation.serviceAccountName" -}}{{ . }}-password-rotation{{- end -}}
