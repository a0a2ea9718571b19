"""KFP's own MLflow plugin is off in what we ship (issue 13), and the config that says so reaches
the upstream API server.

What we ship, rendered with the real binaries: the ConfigMap churnops-kfp-apiserver-config of
every overlay (kubectl kustomize) and the `kfp` Argo CD Application's kustomize.patches (helm
template). The patches are then applied the way Argo CD applies them (appended to the `patches`
of the Application path's kustomization.yaml, then `kustomize build`: argoproj/argo-cd
util/kustomize/kustomize.go `Build`, read at v3.5.1 and v2.9.0, the first tag with the field) to a
STAND-IN of upstream's Deployment, built with the real kubectl.

The stand-in and the key list below are HAND-TRANSCRIBED from kubeflow/pipelines at tag 2.17.0
(the newest 2.17 tag in the snapshot read; the bundle pins 2.17.2, not available to read), never
copied files:
- backend/src/apiserver/config/config.json: UPSTREAM_CONFIG is its content without `plugins`
  (which held `plugins.mlflow` with endpoint https://mlflow.opendatahub.svc.cluster.local:8443);
- backend/src/apiserver/plugins/mlflow/config.go `IsEnabled()`: viper.IsSet("plugins.mlflow");
- backend/src/apiserver/main.go `initConfig()`: viper.SetConfigName("config"),
  AddConfigPath(--config); backend/Dockerfile CMD: `/bin/apiserver --config=/config ...`;
- manifests/kustomize/base/pipeline/ml-pipeline-apiserver-deployment.yaml: Deployment
  `ml-pipeline`, one container `ml-pipeline-api-server` (no command/args), its volume and mount
  `mlflow-tracking-ca`, the env OBJECTSTORECONFIG_ACCESSKEY / OBJECTSTORECONFIG_SECRETACCESSKEY from
  Secret mlpipeline-minio-artifact (keys accesskey / secretkey); env/platform-agnostic puts it in
  namespace kubeflow.
Not modelled: the rest of upstream's 66 objects, the API server process itself (that it reads the
file is from the source above, not run here), Argo CD's own kustomize binary.
"""

from __future__ import annotations

import json

import pytest
import yaml
from k8s_helpers import argocd_apps, find, validate
from support.environments import ENVIRONMENTS

CONFIG_MAP = "churnops-kfp-apiserver-config"
# backend/Dockerfile CMD --config=/config; main.go initConfig SetConfigName("config"): config.json
API_SERVER_CONFIG = "/config/config.json"
DEPLOYMENT, CONTAINER, NAMESPACE = "ml-pipeline", "ml-pipeline-api-server", "kubeflow"

# kubeflow/pipelines 2.17.0 backend/src/apiserver/config/config.json minus `plugins` (hand-transcribed).
UPSTREAM_CONFIG = {
    "DBConfig": {
        "MySQLConfig": {"DataSourceName": "", "DBName": "mlpipeline", "GroupConcatMaxLen": "4194304"},
        "PostgreSQLConfig": {"DBName": "mlpipeline"},
        "ConMaxLifeTime": "120s",
    },
    "ObjectStoreConfig": {"AccessKey": "minio", "SecretAccessKey": "minio123", "BucketName": "mlpipeline",
                          "PipelinePath": "pipelines"},
    "DBDriverName": "mysql",
    "ARCHIVE_CONFIG_LOG_FILE_NAME": "main.log",
    "ARCHIVE_CONFIG_LOG_PATH_PREFIX": "/artifacts",
    "InitConnectionTimeout": "6m",
    "DEFAULTPIPELINERUNNERSERVICEACCOUNT": "pipeline-runner",
    "CacheEnabled": "true",
    "CRON_SCHEDULE_TIMEZONE": "UTC",
    "CACHE_IMAGE": "ghcr.io/containerd/busybox",
    "CACHE_NODE_RESTRICTIONS": "false",
}


# Upstream's keys we leave out on purpose (issue 25): its default object-store credentials, in plain text.
# The API server reads them from the environment its Deployment fills from the Secret (SECRET_ENV).
CREDENTIAL_KEYS = {"ObjectStoreConfig.AccessKey", "ObjectStoreConfig.SecretAccessKey"}
SECRET_ENV = {"OBJECTSTORECONFIG_ACCESSKEY": ("mlpipeline-minio-artifact", "accesskey"),
              "OBJECTSTORECONFIG_SECRETACCESSKEY": ("mlpipeline-minio-artifact", "secretkey")}


def standin_upstream(directory, deployment=DEPLOYMENT, container=CONTAINER):
    """A kustomization like upstream's env/platform-agnostic holding only the API server Deployment."""
    directory.mkdir()
    (directory / "deployment.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": deployment, "labels": {"app": "ml-pipeline"}},
        "spec": {"selector": {"matchLabels": {"app": "ml-pipeline"}}, "template": {
            "metadata": {"labels": {"app": "ml-pipeline"}},
            "spec": {"containers": [{
                "name": container, "image": "ghcr.io/kubeflow/kfp-api-server:2.17.0",
                "env": [{"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
                        for name, (secret, key) in SECRET_ENV.items()],
                "volumeMounts": [{"name": "mlflow-tracking-ca", "mountPath": "/etc/mlflow-tracking-ca",
                                  "readOnly": True}]}],
                "volumes": [{"name": "mlflow-tracking-ca",
                             "configMap": {"name": "mlflow-tracking-ca", "optional": True}}],
                "serviceAccountName": "ml-pipeline"}}}}))
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["deployment.yaml"], "namespace": NAMESPACE}))
    return directory


def argocd_build(directory, patches):
    """What Argo CD's kustomize Build does with spec.source.kustomize.patches, then kubectl kustomize."""
    path = directory / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text())
    kustomization["patches"] = [*kustomization.get("patches", []), *patches]
    path.write_text(yaml.safe_dump(kustomization))
    return validate.build_kustomization(directory)


def kfp_patches(env):
    (kfp,) = [a for a in argocd_apps(env) if a["metadata"]["name"] == f"kfp-{env}"]
    return kfp["spec"]["source"]["kustomize"]["patches"]


def shipped_config(objects) -> dict:
    return json.loads(find(objects, "ConfigMap", CONFIG_MAP, NAMESPACE)["data"][API_SERVER_CONFIG.rsplit("/", 1)[1]])


def leaves(node, prefix=""):
    for name, value in node.items():
        path = f"{prefix}.{name}" if prefix else name
        yield from leaves(value, path) if isinstance(value, dict) else [(path, value)]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_shipped_kfp_config_has_the_mlflow_plugin_off_and_every_other_upstream_key(env, overlays):
    config = shipped_config(overlays[env])
    # IsEnabled() is viper.IsSet("plugins.mlflow"), and viper (v1.20.1, KFP 2.17.0's go.mod) lowercases
    # keys: viper.go IsSet(), insensitiviseMap() of the read config. So no key may be `plugins` in any case.
    assert [k for k in config if k.lower() == "plugins"] == []
    upstream = {key: value for key, value in leaves(UPSTREAM_CONFIG) if key not in CREDENTIAL_KEYS}
    assert dict(leaves(config)) == upstream


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_argocd_mounts_it_over_the_api_servers_config_file(env, overlays, tmp_path):
    objects, error = argocd_build(standin_upstream(tmp_path / "upstream"), kfp_patches(env))
    assert not error, error
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["metadata"] == {"name": DEPLOYMENT, "namespace": NAMESPACE, "labels": {"app": "ml-pipeline"}}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    mount = mounts[API_SERVER_CONFIG]
    assert mount["subPath"] == "config.json" and mount["readOnly"] is True  # /config keeps sample_config.json
    assert "/etc/mlflow-tracking-ca" in mounts  # upstream's own mount kept
    # the object-store credentials the file no longer carries still reach the API server, from the Secret
    refs = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container["env"]}
    assert {name: (ref["name"], ref["key"]) for name, ref in refs.items()} == SECRET_ENV
    volume = {v["name"]: v for v in pod["volumes"]}[mount["name"]]
    assert volume["configMap"]["name"] == CONFIG_MAP and not volume["configMap"].get("optional")
    # the ConfigMap comes from this environment's churnops-mlflow render, in the Deployment's
    # namespace, with the key the subPath names, synced in an earlier wave
    cm = find(overlays[env], "ConfigMap", CONFIG_MAP, NAMESPACE)
    assert cm["metadata"]["name"] == CONFIG_MAP and mount["subPath"] in cm["data"]
    waves = {a["metadata"]["name"]: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
             for a in argocd_apps(env)}
    assert waves[f"churnops-mlflow-{env}"] < waves[f"kfp-{env}"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_configmap_of_the_bundle_holds_a_credential(env, overlays):
    """Issue 25: the KFP API server ConfigMap carried upstream's minio/minio123 in plain text."""
    found = []
    for config_map in (obj for obj in overlays[env] if obj["kind"] == "ConfigMap"):
        for name, text in (config_map.get("data") or {}).items():
            try:
                values = dict(leaves(json.loads(text))) if text.lstrip().startswith("{") else {name: text}
            except json.JSONDecodeError:
                values = {name: text}
            found += [f"{config_map['metadata']['name']}: {key}" for key, value in values.items()
                      if value and any(word in key.lower() for word in ("accesskey", "secret", "password", "token"))]
    assert found == []


@pytest.mark.parametrize(("deployment", "container", "message"), [
    ("ml-pipeline-apiserver", CONTAINER, "no matches for Id Deployment.v1.apps/ml-pipeline"),
    (DEPLOYMENT, "api-server", "testing value /spec/template/spec/containers/0/name failed"),
])
def test_an_upstream_rename_fails_the_build_instead_of_shipping_the_plugin_on(tmp_path, deployment, container,
                                                                               message):
    objects, error = argocd_build(standin_upstream(tmp_path / "upstream", deployment, container),
                                  kfp_patches(ENVIRONMENTS[0]))
    assert objects == [] and message in error

