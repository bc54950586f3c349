{{/*
Checks of the values that values.schema.json cannot make (Bitnami's validateValues pattern).
The schema is generated from the `## @param` lines by readme-generator-for-helm and only says each
value's type; the modes, hook events, names, ports, file names, requests and limits and the top-level
keys are checked here. Every problem is listed at once, each named by its JSON pointer like the
schema's own errors (/passwordSync/mode). Included from NOTES.txt, which every render evaluates.
*/}}
{{- define "rhdemo.validateValues" -}}
{{- $v := .Values -}}
{{- $errors := list -}}

{{- /* Unknown top-level keys (a typo in a block name would otherwise be ignored silently). */ -}}
{{- $blocks := list "global" "postgresql-rhdemo" "postgresql-keycloak" "rhdemo" "keycloak" "passwordSync" "migrations" "psqlImage" "jobPodSecurityContext" "containerSecurityContext" "waitContainers" "tests" "checksumKey" -}}
{{- range $key := keys $v | sortAlpha -}}
{{- if and (not (has $key $blocks)) (not (hasPrefix "__rhdemo" $key)) -}}
{{- $errors = append $errors (printf "/: additional property '%s' not allowed (the chart's values are listed in its README.md)" $key) -}}
{{- end -}}
{{- end -}}
{{- if hasKey ($v.rhdemo | default dict) "database" -}}
{{- $errors = append $errors "/rhdemo/database: 'database' not allowed: the app connects to postgresql-rhdemo's database (postgresql-rhdemo.database.*, postgresql-rhdemo.service.port)" -}}
{{- end -}}

{{- /* Modes and other closed choices. */ -}}
{{- $pullPolicies := list "Always" "IfNotPresent" "Never" -}}
{{- $enums := list
  (list "/passwordSync/mode" $v.passwordSync.mode (list "robust" "alternating" "seed" "none"))
  (list "/passwordSync/alternating/retirement" $v.passwordSync.alternating.retirement (list "when-unused" "immediately"))
  (list "/migrations/mode" $v.migrations.mode (list "app-flyway" "sql-job" "flyway-job" "init-container" "hibernate-update" "none"))
  (list "/rhdemo/jpa/ddlAuto" $v.rhdemo.jpa.ddlAuto (list "validate" "update" "create" "create-drop" "none"))
  (list "/rhdemo/service/type" $v.rhdemo.service.type (list "ClusterIP" "NodePort" "LoadBalancer")) -}}
{{- $images := dict
  "/postgresql-rhdemo/image" (index $v "postgresql-rhdemo").image
  "/postgresql-keycloak/image" (index $v "postgresql-keycloak").image
  "/rhdemo/image" $v.rhdemo.image
  "/keycloak/image" $v.keycloak.image
  "/migrations/flyway/image" $v.migrations.flyway.image
  "/psqlImage" $v.psqlImage -}}
{{- range $path := keys $images | sortAlpha -}}
{{- $image := index $images $path -}}
{{- $enums = append $enums (list (printf "%s/pullPolicy" $path) $image.pullPolicy $pullPolicies) -}}
{{- if not $image.repository -}}{{- $errors = append $errors (printf "%s/repository: must not be empty" $path) -}}{{- end -}}
{{- if not (toString ($image.tag | default "")) -}}{{- $errors = append $errors (printf "%s/tag: must not be empty (an explicit version)" $path) -}}{{- end -}}
{{- end -}}
{{- range $enum := $enums -}}
{{- $value := index $enum 1 -}}
{{- if not (has $value (index $enum 2)) -}}
{{- $errors = append $errors (printf "%s: %s is not one of %s" (index $enum 0) (toJson $value) (join ", " (index $enum 2))) -}}
{{- end -}}
{{- end -}}

{{- /* Comma-separated Helm hook events (empty: the mode's default). */ -}}
{{- $event := "(pre-install|post-install|pre-upgrade|post-upgrade|pre-rollback|post-rollback|pre-delete|post-delete)" -}}
{{- range $path, $value := dict "/passwordSync/hookEvents" $v.passwordSync.hookEvents "/migrations/hookEvents" $v.migrations.hookEvents -}}
{{- if not (regexMatch (printf "^(%s(,%s)*)?$" $event $event) (toString ($value | default ""))) -}}
{{- $errors = append $errors (printf "%s: %s is not a comma-separated list of Helm hook events (e.g. post-install,pre-upgrade)" $path (toJson $value)) -}}
{{- end -}}
{{- end -}}

{{- /* Kubernetes object names. */ -}}
{{- $names := dict
  "/global/namespace" $v.global.namespace
  "/postgresql-rhdemo/database/passwordSecret/name" (index $v "postgresql-rhdemo").database.passwordSecret.name
  "/postgresql-keycloak/database/passwordSecret/name" (index $v "postgresql-keycloak").database.passwordSecret.name
  "/keycloak/admin/passwordSecret/name" $v.keycloak.admin.passwordSecret.name -}}
{{- range $path := keys $names | sortAlpha -}}
{{- $name := toString (index $names $path | default "") -}}
{{- if or (gt (len $name) 63) (not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $name)) -}}
{{- $errors = append $errors (printf "%s: %s is not a Kubernetes object name (lowercase letters, digits, '-', at most 63)" $path (toJson $name)) -}}
{{- end -}}
{{- end -}}

{{- /* Integers in a range: [value, min, max]. */ -}}
{{- $integers := dict
  "/postgresql-rhdemo/service/port" (list (index $v "postgresql-rhdemo").service.port 1 65535)
  "/postgresql-keycloak/service/port" (list (index $v "postgresql-keycloak").service.port 1 65535)
  "/rhdemo/service/port" (list $v.rhdemo.service.port 1 65535)
  "/rhdemo/service/managementPort" (list $v.rhdemo.service.managementPort 1 65535)
  "/keycloak/service/port" (list $v.keycloak.service.port 1 65535)
  "/keycloak/service/managementPort" (list $v.keycloak.service.managementPort 1 65535)
  "/rhdemo/replicaCount" (list $v.rhdemo.replicaCount 0 1000)
  "/passwordSync/verifyTimeoutSeconds" (list $v.passwordSync.verifyTimeoutSeconds 1 86400)
  "/passwordSync/checkIntervalSeconds" (list $v.passwordSync.checkIntervalSeconds 1 86400)
  "/passwordSync/backoffLimit" (list $v.passwordSync.backoffLimit 0 100)
  "/migrations/backoffLimit" (list $v.migrations.backoffLimit 0 100) -}}
{{- range $path := keys $integers | sortAlpha -}}
{{- $spec := index $integers $path -}}
{{- $value := toString (index $spec 0) -}}
{{- if or (not (regexMatch "^[0-9]+$" $value)) (lt (atoi $value) (index $spec 1)) (gt (atoi $value) (index $spec 2)) -}}
{{- $errors = append $errors (printf "%s: %s is not an integer from %d to %d" $path $value (index $spec 1) (index $spec 2)) -}}
{{- end -}}
{{- end -}}
{{- range $port := list "nodePort" "managementNodePort" -}}
{{- $value := toString (index $v.rhdemo.service $port | default 0) -}}
{{- if and (ne $value "0") (or (not (regexMatch "^[0-9]+$" $value)) (lt (atoi $value) 30000) (gt (atoi $value) 32767)) -}}
{{- $errors = append $errors (printf "/rhdemo/service/%s: %s is not 0 (any) nor a node port from 30000 to 32767" $port $value) -}}
{{- end -}}
{{- end -}}

{{- /* Every container has requests and limits (secure default). */ -}}
{{- $resources := dict
  "/postgresql-rhdemo/resources" (index $v "postgresql-rhdemo").resources
  "/postgresql-keycloak/resources" (index $v "postgresql-keycloak").resources
  "/rhdemo/resources" $v.rhdemo.resources
  "/keycloak/resources" $v.keycloak.resources
  "/passwordSync/resources" $v.passwordSync.resources
  "/passwordSync/jobResources" $v.passwordSync.jobResources
  "/migrations/resources" $v.migrations.resources
  "/migrations/flyway/resources" $v.migrations.flyway.resources
  "/waitContainers/resources" $v.waitContainers.resources
  "/tests/resources" $v.tests.resources -}}
{{- range $path := keys $resources | sortAlpha -}}
{{- $r := index $resources $path | default dict -}}
{{- if not (and $r.requests $r.limits) -}}
{{- $errors = append $errors (printf "%s: requests and limits are both required (secure default)" $path) -}}
{{- end -}}
{{- end -}}

{{- /* PostgreSQL storage and files. */ -}}
{{- range $instance := list "postgresql-rhdemo" "postgresql-keycloak" -}}
{{- $pg := index $v $instance -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$" (toString $pg.persistence.size)) -}}
{{- $errors = append $errors (printf "/%s/persistence/size: %s is not a storage quantity (e.g. 1Gi)" $instance (toJson $pg.persistence.size)) -}}
{{- end -}}
{{- if not (regexMatch "^[A-Za-z0-9._-]*$" (toString ($pg.persistence.pgdataSubPath | default ""))) -}}
{{- $errors = append $errors (printf "/%s/persistence/pgdataSubPath: %s is not a directory name" $instance (toJson $pg.persistence.pgdataSubPath)) -}}
{{- end -}}
{{- $appRoleScript := include "rhdemo.postgresql.appRoleScriptName" $ -}}
{{- range $file, $content := $pg.initScripts -}}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" $file) -}}
{{- $errors = append $errors (printf "/%s/initScripts: '%s' is not a ConfigMap key" $instance $file) -}}
{{- else if le $file $appRoleScript -}}
{{- $errors = append $errors (printf "/%s/initScripts: '%s' must sort after the chart's %s (which creates the app role), e.g. 01-schema.sql" $instance $file $appRoleScript) -}}
{{- end -}}
{{- end -}}
{{- /* Role names: plain identifiers (they go unquoted into PGOPTIONS and pg_isready). */ -}}
{{- range $field := list "database/user" "superuser" -}}
{{- $role := toString (ternary $pg.database.user $pg.superuser (eq $field "database/user") | default "") -}}
{{- if or (gt (len $role) 63) (not (regexMatch "^[a-z_][a-z0-9_]*$" $role)) -}}
{{- $errors = append $errors (printf "/%s/%s: %s is not a PostgreSQL role name (lowercase letters, digits, '_', at most 63)" $instance $field (toJson $role)) -}}
{{- end -}}
{{- end -}}
{{- if eq (toString $pg.database.user) (toString $pg.superuser) -}}
{{- $errors = append $errors (printf "/%s/superuser: %s is also database.user: the clients' role must not be the superuser" $instance (toJson $pg.superuser)) -}}
{{- end -}}
{{- end -}}
{{- range $file, $content := $v.migrations.files -}}
{{- if or (not (regexMatch "^[-._a-zA-Z0-9]+\\.sql$" $file)) (gt (len $file) 54) -}}
{{- $errors = append $errors (printf "/migrations/files: '%s' is not V<version>__<description>.sql with at most 50 characters before .sql (the size of schema_migrations.version)" $file) -}}
{{- end -}}
{{- end -}}

{{- if $errors -}}
{{- fail (printf "\nVALUES VALIDATION:\n  %s" (join "\n  " $errors)) -}}
{{- end -}}
{{- end -}}
