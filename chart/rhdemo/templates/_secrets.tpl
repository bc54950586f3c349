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
{{- $secret := include "rhdemo.checksumKey.secretName" . -}}
{{- $key := include "rhdemo.secretValue" (dict "root" . "secret" $secret "key" "key" "given" .Values.checksumKey) -}}
{{- if not $key -}}
{{- $key = randAlphaNum 24 -}}
{{- $_ := set (index .Values "__rhdemoResolvedSecrets") (printf "%s/key" $secret) $key -}}
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
