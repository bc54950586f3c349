{{/*
One PostgreSQL instance, rendered once per value block ("postgresql-rhdemo", "postgresql-keycloak"):
a Secret (the password), the `<name>-init` ConfigMap (/docker-entrypoint-initdb.d), a Service and a
StatefulSet, one template each, one file each per instance.
Named templates rather than a subchart: a subchart sees only its own values and `global`, and the
password-sync container in the database pod depends on the top-level passwordSync.mode.
Usage: include "rhdemo.postgresql.<object>" (dict "root" $ "name" "postgresql-rhdemo")
*/}}

{{- define "rhdemo.postgresql.secret" -}}
{{- $pg := index .root.Values .name -}}
{{- $secret := $pg.database.passwordSecret -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $secret.name }}
  namespace: {{ include "rhdemo.namespace" .root }}
  labels:
    {{- include "rhdemo.labels" (dict "root" .root "app" .name "component" "database") | nindent 4 }}
type: Opaque
data:
  {{ $secret.key }}: {{ include "rhdemo.secretValue" (dict "root" .root "secret" $secret.name "key" $secret.key "given" $pg.database.password) | b64enc | quote }}
{{- end -}}

{{/*
The `<name>-init` ConfigMap: the chart's app-role script first (it sorts before every name the
validation accepts), then the values' initScripts.
*/}}
{{- define "rhdemo.postgresql.initConfigMap" -}}
{{- $pg := index .root.Values .name -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "rhdemo.postgresql.initConfigMapName" .name }}
  namespace: {{ include "rhdemo.namespace" .root }}
  labels:
    {{- include "rhdemo.labels" (dict "root" .root "app" .name "component" "database") | nindent 4 }}
data:
  {{- toYaml (merge (dict (include "rhdemo.postgresql.appRoleScriptName" .) (.root.Files.Get "files/app-role-init.sh")) ($pg.initScripts | default dict)) | nindent 2 }}
{{- end -}}

{{- define "rhdemo.postgresql.service" -}}
{{- $pg := index .root.Values .name -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  namespace: {{ include "rhdemo.namespace" .root }}
  labels:
    {{- include "rhdemo.labels" (dict "root" .root "app" .name "component" "database") | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "rhdemo.selectorLabels" (dict "root" .root "app" .name) | nindent 4 }}
  ports:
  - name: postgresql
    port: {{ $pg.service.port }}
    targetPort: postgresql
{{- end -}}

{{- define "rhdemo.postgresql.statefulset" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $pg := index $root.Values $name -}}
{{- $robust := eq $root.Values.passwordSync.mode "robust" -}}
{{- $alternating := eq $root.Values.passwordSync.mode "alternating" -}}
{{- $db := dict "root" $root "name" $name -}}
{{- $dataDir := "/var/lib/postgresql/data" -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  namespace: {{ include "rhdemo.namespace" $root }}
  labels:
    {{- include "rhdemo.labels" (dict "root" $root "app" $name "component" "database") | nindent 4 }}
spec:
  serviceName: {{ $name }}
  replicas: 1
  selector:
    matchLabels:
      {{- include "rhdemo.selectorLabels" (dict "root" $root "app" $name) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "rhdemo.labels" (dict "root" $root "app" $name "component" "database") | nindent 8 }}
      annotations:
        checksum/init-scripts: {{ toYaml $pg.initScripts | sha256sum }}
        {{- if $robust }}
        # Rolls the database pod when the password changes, also when the Secret was changed with
        # kubectl (live value); the password-sync container applies it at start.
        checksum/password: {{ include "rhdemo.database.passwordChecksum" . }}
        {{- end }}
    spec:
      {{- with (include "rhdemo.imagePullSecrets" $root) }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- if $alternating }}
      # password-rotation's identity; its token is mounted in that container only (volume api-access)
      serviceAccountName: {{ include "rhdemo.passwordRotation.serviceAccountName" $name }}
      automountServiceAccountToken: false
      {{- end }}
      securityContext:
        {{- toYaml $pg.podSecurityContext | nindent 8 }}
      containers:
      - name: postgresql
        image: {{ include "rhdemo.image" (dict "image" $pg.image "root" $root) }}
        imagePullPolicy: {{ $pg.image.pullPolicy }}
        env:
        # initdb's superuser; the chart's init script gives the Secret's password to APP_ROLE (the
        # role the clients use, not a superuser) and leaves the superuser without one.
        - name: POSTGRES_USER
          value: {{ $pg.superuser | quote }}
        - name: POSTGRES_DB
          value: {{ $pg.database.name | quote }}
        - name: POSTGRES_PASSWORD
          valueFrom:
            {{- include "rhdemo.database.passwordSecretKeyRef" . | nindent 12 }}
        - name: APP_ROLE
          value: {{ $pg.database.user | quote }}
        {{- with $pg.initdbArgs }}
        - name: POSTGRES_INITDB_ARGS
          value: {{ . | quote }}
        {{- end }}
        - name: PGDATA
          value: {{ printf "%s/%s" $dataDir $pg.persistence.pgdataSubPath | trimSuffix "/" | quote }}
        ports:
        - name: postgresql
          containerPort: 5432
        readinessProbe:
          exec:
            command: ["/bin/sh", "-c", "exec pg_isready -h 127.0.0.1 -p 5432 -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\""]
          initialDelaySeconds: 5
          periodSeconds: 5
          failureThreshold: 6
        livenessProbe:
          exec:
            command: ["/bin/sh", "-c", "exec pg_isready -h 127.0.0.1 -p 5432 -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\""]
          initialDelaySeconds: 30
          periodSeconds: 10
          failureThreshold: 6
        securityContext:
          {{- toYaml $pg.containerSecurityContext | nindent 10 }}
        resources:
          {{- toYaml $pg.resources | nindent 10 }}
        volumeMounts:
        - name: {{ include "rhdemo.postgresql.dataVolumeName" $name }}
          mountPath: {{ $dataDir }}
        - name: init-scripts
          mountPath: /docker-entrypoint-initdb.d
        - name: run
          mountPath: /var/run/postgresql
      {{- if or $robust $alternating }}
      # Solution 1 (robust, alternating): applies the Secret's password to a role through the local
      # socket (trust, as in the official image), so no old password is needed. On every start it also
      # makes the roles match the chart (init scripts run only on an empty PGDATA).
      - name: password-sync
        image: {{ include "rhdemo.image" (dict "image" $pg.image "root" $root) }}
        imagePullPolicy: {{ $pg.image.pullPolicy }}
        env:
        - name: PGHOST
          value: /var/run/postgresql
        - name: PGPORT
          value: "5432"
        - name: POSTGRES_USER
          value: {{ $pg.superuser | quote }}
        - name: SYNC_ROLE
          value: {{ $pg.database.user | quote }}
        - name: SYNC_DATABASE
          value: {{ $pg.database.name | quote }}
        - name: PASSWORD_FILE
          value: /run/secrets/database/password
        - name: CHECK_INTERVAL_SECONDS
          value: {{ $root.Values.passwordSync.checkIntervalSeconds | quote }}
        - name: REVERIFY_INTERVAL_SECONDS
          value: {{ $root.Values.passwordSync.reverifyIntervalSeconds | quote }}
        {{- if $alternating }}
        - name: SYNC_STRATEGY
          value: alternating
        - name: LOGIN_BLUE
          value: {{ include "rhdemo.database.alternateLogins" $db | splitList " " | first | quote }}
        - name: LOGIN_GREEN
          value: {{ include "rhdemo.database.alternateLogins" $db | splitList " " | last | quote }}
        - name: RETIREMENT
          value: {{ $root.Values.passwordSync.alternating.retirement | quote }}
        - name: ROTATION_DIR
          value: /run/rotation
        {{- end }}
        # The login check goes to the pod's IP, as the app's connections: a PGDATA initialised
        # without initdbArgs trusts 127.0.0.1 (initdb's default), which would prove nothing.
        - name: VERIFY_HOST
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        command:
        - /bin/sh
        - -c
        - |
          {{- $root.Files.Get "files/password-sync-sidecar.sh" | nindent 10 }}
        securityContext:
          {{- toYaml $pg.containerSecurityContext | nindent 10 }}
        resources:
          {{- toYaml $root.Values.passwordSync.resources | nindent 10 }}
        volumeMounts:
        - name: run
          mountPath: /var/run/postgresql
        - name: password
          mountPath: /run/secrets/database
          readOnly: true
        {{- if $alternating }}
        - name: rotation
          mountPath: /run/rotation
        {{- end }}
      {{- end }}
      {{- if $alternating }}
      # The API side of the alternating rotation (files/password-rotation.py, app image: python3): tells
      # password-sync which logins the consumer's pods use and switches the consumer's Deployment to the
      # login password-sync prepared. No database access, no Secret mounted: only the shared files.
      - name: password-rotation
        image: {{ include "rhdemo.image" (dict "image" $root.Values.rhdemo.image "root" $root) }}
        imagePullPolicy: {{ $root.Values.rhdemo.image.pullPolicy }}
        env:
        - name: TARGET_DEPLOYMENT
          value: {{ include "rhdemo.database.consumer" $db | quote }}
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: LOGIN_ANNOTATION
          value: {{ include "rhdemo.database.loginAnnotation" $root | quote }}
        - name: DEFAULT_LOGIN
          value: {{ $pg.database.user | quote }}
        - name: ROTATION_DIR
          value: /run/rotation
        - name: CHECK_INTERVAL_SECONDS
          value: {{ $root.Values.passwordSync.checkIntervalSeconds | quote }}
        command:
        - python3
        - -c
        - |
          {{- $root.Files.Get "files/password-rotation.py" | nindent 10 }}
        securityContext:
          {{- toYaml $pg.containerSecurityContext | nindent 10 }}
        resources:
          {{- toYaml $root.Values.passwordSync.alternating.resources | nindent 10 }}
        volumeMounts:
        - name: rotation
          mountPath: /run/rotation
        - name: api-access
          mountPath: /var/run/secrets/kubernetes.io/serviceaccount
          readOnly: true
      {{- end }}
      volumes:
      - name: init-scripts
        configMap:
          name: {{ include "rhdemo.postgresql.initConfigMapName" $name }}
      - name: run
        emptyDir: {}
      {{- if or $robust $alternating }}
      - name: password
        secret:
          secretName: {{ $pg.database.passwordSecret.name }}
          defaultMode: 0440
          items:
          - key: {{ $pg.database.passwordSecret.key }}
            path: password
      {{- end }}
      {{- if $alternating }}
      - name: rotation
        emptyDir:
          medium: Memory
          sizeLimit: 1Mi
      # what automountServiceAccountToken would mount, for the password-rotation container only
      - name: api-access
        projected:
          sources:
          - serviceAccountToken:
              path: token
              expirationSeconds: 3607
          - configMap:
              name: kube-root-ca.crt
              items:
              - key: ca.crt
                path: ca.crt
          - downwardAPI:
              items:
              - path: namespace
                fieldRef:
                  fieldPath: metadata.namespace
      {{- end }}
  volumeClaimTemplates:
  - metadata:
      name: {{ include "rhdemo.postgresql.dataVolumeName" $name }}
      labels:
        {{- include "rhdemo.selectorLabels" (dict "root" $root "app" $name) | nindent 8 }}
    spec:
      accessModes:
        {{- toYaml $pg.persistence.accessModes | nindent 8 }}
      {{- with $pg.persistence.storageClass }}
      storageClassName: {{ . }}
      {{- end }}
      resources:
        requests:
          storage: {{ $pg.persistence.size }}
{{- end -}}
