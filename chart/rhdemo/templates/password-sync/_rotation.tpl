{{/*
RBAC of the password-rotation container (passwordSync.mode=alternating) of one PostgreSQL instance:
read the consumer's Deployment and list its pods (which logins they use), patch that Deployment (switch
it to the login password-sync prepared). Patching a pod template is a strong right (the image could be
changed too): it is limited to one named Deployment in the release's namespace, and the token is mounted
in that container only (docs/chart.md weighs it).
Usage: include "rhdemo.passwordRotation.role" (dict "root" $ "name" "postgresql-rhdemo")
*/}}
{{- define "rhdemo.passwordRotation.enabled" -}}
{{- if and (include "rhdemo.postgresql.enabled" .) (eq .root.Values.passwordSync.mode "alternating") -}}true{{- end -}}
{{- end -}}

{{- define "rhdemo.passwordRotation.serviceAccount" -}}
{{- if include "rhdemo.passwordRotation.enabled" . }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "rhdemo.passwordRotation.serviceAccountName" .name }}
  namespace: {{ include "rhdemo.namespace" .root }}
  labels:
    {{- include "rhdemo.labels" (dict "root" .root "app" .name "component" "password-rotation") | nindent 4 }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}

{{- define "rhdemo.passwordRotation.role" -}}
{{- if include "rhdemo.passwordRotation.enabled" . }}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "rhdemo.passwordRotation.serviceAccountName" .name }}
  namespace: {{ include "rhdemo.namespace" .root }}
  labels:
    {{- include "rhdemo.labels" (dict "root" .root "app" .name "component" "password-rotation") | nindent 4 }}
rules:
- apiGroups: ["apps"]
  resources: ["deployments"]
  resourceNames: [{{ include "rhdemo.database.consumer" . | quote }}]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
{{- end }}
{{- end -}}

{{- define "rhdemo.passwordRotation.roleBinding" -}}
{{- if include "rhdemo.passwordRotation.enabled" . }}
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "rhdemo.passwordRotation.serviceAccountName" .name }}
  namespace: {{ include "rhdemo.namespace" .root }}
  labels:
    {{- include "rhdemo.labels" (dict "root" .root "app" .name "component" "password-rotation") | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "rhdemo.passwordRotation.serviceAccountName" .name }}
subjects:
- kind: ServiceAccount
  name: {{ include "rhdemo.passwordRotation.serviceAccountName" .name }}
  namespace: {{ include "rhdemo.namespace" .root }}
{{- end }}
{{- end -}}
