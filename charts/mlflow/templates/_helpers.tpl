{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "mlflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, or release-chart when the release name does not contain the chart name. */}}
{{- define "mlflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mlflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "mlflow.labels" -}}
helm.sh/chart: {{ include "mlflow.chart" . }}
{{ include "mlflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: churnops
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels: stable across upgrades, shared by the Deployment, Service, PDB and NetworkPolicies. */}}
{{- define "mlflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "mlflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mlflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false: name the existing ServiceAccount" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mlflow.image" -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}

{{/* True when something (SQLite or proxied local artifacts) lives on the data PVC. */}}
{{- define "mlflow.usesDataVolume" -}}
{{- if or (eq .Values.backendStore.type "sqlite") (eq .Values.artifactRoot.type "proxied") }}true{{- end }}
{{- end }}

{{- define "mlflow.dataClaimName" -}}
{{- default (printf "%s-data" (include "mlflow.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* Bucket URI of the blob artifact store, e.g. s3://mlflow/artifacts or gs://bucket/path. */}}
{{- define "mlflow.bucketUri" -}}
{{- if eq .Values.artifactRoot.type "s3" }}
{{- printf "s3://%s/%s" .Values.artifactRoot.s3.bucket .Values.artifactRoot.s3.path | trimSuffix "/" }}
{{- else if eq .Values.artifactRoot.type "gcs" }}
{{- printf "gs://%s/%s" .Values.artifactRoot.gcs.bucket .Values.artifactRoot.gcs.path | trimSuffix "/" }}
{{- end }}
{{- end }}

{{/* Environment shared by the server and the migration: the backend store URI. */}}
{{- define "mlflow.backendEnv" -}}
{{- if eq .Values.backendStore.type "postgres" }}
- name: MLFLOW_BACKEND_STORE_URI
  valueFrom:
    secretKeyRef:
      name: {{ .Values.backendStore.postgres.existingSecret }}
      key: {{ .Values.backendStore.postgres.uriKey }}
{{- else }}
- name: MLFLOW_BACKEND_STORE_URI
  value: sqlite:////data/mlflow.db
{{- end }}
{{- end }}

{{/* Restricted container security context (Pod Security Standard "restricted"). */}}
{{- define "mlflow.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* --allowed-hosts: every name bare and with any port (MLflow compares the whole Host header), then the raw patterns. */}}
{{- define "mlflow.allowedHosts" -}}
{{- $hosts := list }}
{{- range .Values.server.allowedHosts }}
{{- $hosts = append $hosts . }}
{{- $hosts = append $hosts (printf "%s:*" .) }}
{{- end }}
{{- join "," (concat $hosts .Values.server.allowedHostPatterns) }}
{{- end }}
