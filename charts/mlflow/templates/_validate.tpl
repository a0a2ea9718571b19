{{/*
Invalid value combinations fail here with a message that says how to fix them.
Included from deployment.yaml so that every render runs it. tests/k8s/test_chart.py proves each one.
*/}}
{{- define "mlflow.validate" -}}
{{- $v := .Values }}
{{- $blob := or (eq $v.artifactRoot.type "s3") (eq $v.artifactRoot.type "gcs") }}
{{- $pg := eq $v.backendStore.type "postgres" }}
{{- if eq $v.image.tag "latest" }}
{{- fail "image.tag=latest is not allowed: pin a version, e.g. image.tag=3.17.2" }}
{{- end }}
{{- if and $pg (not $v.backendStore.postgres.existingSecret) }}
{{- fail "backendStore.type=postgres needs backendStore.postgres.existingSecret: create a Secret with the key MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB and set its name" }}
{{- end }}
{{- if and (eq $v.artifactRoot.type "s3") (not $v.artifactRoot.s3.bucket) }}
{{- fail "artifactRoot.type=s3 needs artifactRoot.s3.bucket: set the bucket name (and artifactRoot.s3.endpointUrl for MinIO)" }}
{{- end }}
{{- if and (eq $v.artifactRoot.type "s3") (not $v.artifactRoot.s3.existingSecret) }}
{{- fail "artifactRoot.type=s3 needs artifactRoot.s3.existingSecret: create a Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and set its name" }}
{{- end }}
{{- if and (eq $v.artifactRoot.type "gcs") (not $v.artifactRoot.gcs.bucket) }}
{{- fail "artifactRoot.type=gcs needs artifactRoot.gcs.bucket: set the bucket name" }}
{{- end }}
{{- if and $v.autoscaling.enabled (not (and $pg $blob)) }}
{{- fail "autoscaling.enabled=true needs an external database and a blob store: set backendStore.type=postgres and artifactRoot.type=s3 or gcs (SQLite and proxied local artifacts live on one ReadWriteOnce volume)" }}
{{- end }}
{{- if and (gt (int $v.replicaCount) 1) (not (and $pg $blob)) }}
{{- fail "replicaCount > 1 needs an external database and a blob store: set backendStore.type=postgres and artifactRoot.type=s3 or gcs, or set replicaCount=1" }}
{{- end }}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas is greater than autoscaling.maxReplicas: lower minReplicas or raise maxReplicas" }}
{{- end }}
{{- if $v.podDisruptionBudget.enabled }}
{{- $replicas := ternary $v.autoscaling.minReplicas $v.replicaCount $v.autoscaling.enabled }}
{{- if ge (int $v.podDisruptionBudget.minAvailable) (int $replicas) }}
{{- fail (printf "podDisruptionBudget.minAvailable=%d would block every node drain with %d replica(s): raise replicaCount (or autoscaling.minReplicas) above minAvailable, or disable the PDB" (int $v.podDisruptionBudget.minAvailable) (int $replicas)) }}
{{- end }}
{{- end }}
{{- if and $v.auth.enabled (not $v.auth.existingSecret) }}
{{- fail "auth.enabled=true needs auth.existingSecret: create a Secret whose key basic_auth.ini sets database_uri to the auth database (not the tracking database) and set its name" }}
{{- end }}
{{- if and $v.auth.enabled (not $v.auth.secretKeySecret) }}
{{- fail "auth.enabled=true needs auth.secretKeySecret: MLflow basic auth exits without MLFLOW_FLASK_SERVER_SECRET_KEY; create a Secret with that key (a long random string) and set its name" }}
{{- end }}
{{- if and $v.auth.enabled $v.serviceMonitor.enabled (not $v.serviceMonitor.basicAuthSecret) }}
{{- fail "auth.enabled=true with serviceMonitor.enabled=true needs serviceMonitor.basicAuthSecret: /metrics answers 401 without credentials; create a Secret with the keys username and password of an MLflow user and set its name" }}
{{- end }}
{{- if and $v.serviceMonitor.enabled (not $v.metrics.enabled) }}
{{- fail "serviceMonitor.enabled=true needs metrics.enabled=true: the ServiceMonitor scrapes /metrics, which only exists with --expose-prometheus" }}
{{- end }}
{{- if and $v.ingress.enabled (not $v.ingress.host) }}
{{- fail "ingress.enabled=true needs ingress.host: set the host name and add it to server.allowedHosts" }}
{{- end }}
{{- if and $v.ingress.enabled (not (has $v.ingress.host $v.server.allowedHosts)) }}
{{- fail (printf "ingress.host=%s is not in server.allowedHosts: MLflow would reject its requests with 403; add it to server.allowedHosts" $v.ingress.host) }}
{{- end }}
{{- if and $v.backendStore.migration.job (not $pg) }}
{{- fail "backendStore.migration.job=true needs backendStore.type=postgres: a SQLite file on a ReadWriteOnce volume cannot be migrated by a separate Job; use backendStore.migration.initContainer" }}
{{- end }}
{{- if and (not $v.backendStore.migration.initContainer) (not $v.backendStore.migration.job) }}
{{- fail "backendStore.migration: enable initContainer or job, otherwise a new server version starts against an unmigrated database" }}
{{- end }}
{{- end }}
