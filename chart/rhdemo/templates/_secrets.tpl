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
when the value changes, also when the Secret was changed outside Helm. For a chart-managed Secret
it is the resolved value; for an external Secret (create: false) the live one (lookup).
Usage: include "rhdemo.secretChecksum" (dict "root" $ "secret" "n" "key" "k" "create" true "given" "")
*/}}
{{- define "rhdemo.secretChecksum" -}}
{{- if .create -}}
{{- include "rhdemo.secretValue" . | sha256sum -}}
{{- else -}}
{{- $live := lookup "v1" "Secret" (include "rhdemo.namespace" .root) .secret -}}
{{- $data := dict -}}
{{- if and $live $live.data -}}{{- $data = $live.data -}}{{- end -}}
{{- index $data .key | default "" | b64dec | sha256sum -}}
{{- end -}}
{{- end -}}
