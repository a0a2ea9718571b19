"""The local control plane: upstream Kubernetes, Argo CD, KServe and Knative built from source at the
pins of versions.toml, on loopback, with kwok's fake kubelet (docs/kubernetes.md)."""
