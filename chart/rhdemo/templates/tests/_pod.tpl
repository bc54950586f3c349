{{/*
Solution 5 as `helm test`: one pod per check of the analysis' smoke tests (actuator health, db, ping),
run with the app image itself (python3 + urllib), so no extra image is needed.
Usage: include "rhdemo.tests.pod" (dict "root" $ "check" "health")
*/}}
{{- define "rhdemo.tests.pod" -}}
{{- $root := .root -}}
{{- $check := .check -}}
{{- $path := ternary "/actuator/health" (printf "/actuator/health/%s" $check) (eq $check "health") -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "rhdemo.tests.podName" (dict "root" $root "check" $check) }}
  namespace: {{ include "rhdemo.namespace" $root }}
  labels:
    {{- include "rhdemo.jobLabels" (dict "root" $root "app" (printf "%s-test" (include "rhdemo.app.fullname" $root)) "component" "smoke-test") | nindent 4 }}
  annotations:
    "helm.sh/hook": test
    # Kept after success so `helm test --logs` can read them; replaced by the next `helm test`.
    "helm.sh/hook-delete-policy": before-hook-creation
spec:
  restartPolicy: Never
  {{- with (include "rhdemo.imagePullSecrets" $root) }}
  {{- . | nindent 2 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.rhdemo.podSecurityContext | nindent 4 }}
  containers:
  - name: check
    image: {{ include "rhdemo.image" (dict "image" $root.Values.rhdemo.image "root" $root) }}
    imagePullPolicy: {{ $root.Values.rhdemo.image.pullPolicy }}
    env:
    - name: CHECK_URL
      value: "http://{{ include "rhdemo.app.fullname" $root }}:{{ $root.Values.rhdemo.service.managementPort }}{{ $path }}"
    command:
    - python3
    - -c
    - |
      import json, os, sys, urllib.error, urllib.request
      url = os.environ["CHECK_URL"]
      try:
          with urllib.request.urlopen(url, timeout=10) as response:
              status, body = response.status, response.read().decode()
      except urllib.error.HTTPError as error:
          status, body = error.code, error.read().decode()
      except OSError as error:
          sys.exit(f"❌ {url}: {error}")
      state = json.loads(body).get("status") if body.startswith("{") else None
      print(f"{url}: HTTP {status} {body}")
      if status != 200 or state != "UP":
          sys.exit(f"❌ {url} n'est pas UP")
      print(f"✅ {url} UP")
    securityContext:
      {{- toYaml $root.Values.rhdemo.containerSecurityContext | nindent 6 }}
    resources:
      {{- toYaml $root.Values.tests.resources | nindent 6 }}
{{- end -}}
