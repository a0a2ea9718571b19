{{/* The environment this render is for; every render needs one (values/<env>.yaml). */}}
{{- define "churnops-argocd.environment" -}}
{{- required "environment is required: render with -f k8s/argocd/values/<env>.yaml" .Values.environment -}}
{{- end -}}

{{/* This repository's pinned revision: the release tag of the churnops version in Chart.yaml. */}}
{{- define "churnops-argocd.targetRevision" -}}
v{{ .Chart.AppVersion }}
{{- end -}}

{{/* A comment block: the text wrapped at 96 columns, each line behind "# ". */}}
{{- define "churnops-argocd.comment" -}}
{{- range splitList "\n" (wrap 96 .) }}
# {{ . }}
{{- end }}
{{- end -}}

{{/* Every Application: deleting it deletes what it deployed; removed manifests are pruned. */}}
{{- define "churnops-argocd.metadata" -}}
namespace: {{ .Values.argocdNamespace }}
finalizers:
  - resources-finalizer.argocd.argoproj.io
{{- end -}}

{{- define "churnops-argocd.automated" -}}
automated:
  prune: true
  selfHeal: true
{{- end -}}
