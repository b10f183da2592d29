{{/* The kustomize base's labels, plus the release's. */}}
{{- define "cniupgrade.selectorLabels" -}}
app.kubernetes.io/name: cniupgrade
app.kubernetes.io/component: operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cniupgrade.labels" -}}
app.kubernetes.io/name: cniupgrade
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The ServiceAccount's subject, for every binding. */}}
{{- define "cniupgrade.subjects" -}}
- kind: ServiceAccount
  name: {{ .Values.name }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/* A list of namespace templates (values' trustedNamespaces, helmReleaseReaderNamespaces), rendered, as JSON
     (include returns a string). Called with (dict "list" <list> "root" $). */}}
{{- define "cniupgrade.namespaces" -}}
{{- $out := list }}
{{- range .list }}
{{- $ns := tpl . $.root | trim }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $ns) }}
{{- fail (printf "%q is not a namespace name" $ns) }}
{{- end }}
{{- $out = append $out $ns }}
{{- end }}
{{- $out | uniq | toJson }}
{{- end }}
