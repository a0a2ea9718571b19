"""`up`, `down`, `status`: the control plane on loopback.

Started in this order and stopped in reverse (processes.py owns each one):
  netproxy         the fake pod network: kube-apiserver's `cluster` egress (webhook calls to a
                   Service) goes through it as HTTP CONNECT to the loopback port of the process that
                   serves that Service here (scripts/cluster/netproxy.py)
  etcd             the store, fresh for every `up`
  kube-apiserver   RBAC, the admission plugins it ships with (PodSecurity among them), a token file
                   for the admin, ServiceAccount tokens signed with a key made here
  kube-controller-manager, kube-scheduler
  kwok             the fake kubelet: two nodes; pods become Running/Ready, Job pods Succeed
                   (kwok's own `general` stages with the delays of STAGE_DELAY_MS)
  redis            Debian's redis-server (Argo CD's cache)
  git-daemon       serves the snapshot of this checkout that `gitops` pushes (git://127.0.0.1)
  argocd-repo-server, argocd-application-controller (in-cluster config, as in a pod)
  knative-webhook, knative-controller, kserve-controller
Every upstream object (CRDs, RBAC, ConfigMaps, webhook configurations, Services) is applied from
the upstream module at the pinned version, except the Deployments, whose binaries run here instead
(with the env their upstream Deployment gives them).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from scripts.cluster import gitserver, manifests, pins, processes
from scripts.cluster.pins import ROOT

KUBECTL = ROOT / ".tools" / "bin" / "kubectl"
SERVICE_CIDR = "10.96.0.0/16"
ARGOCD_NAMESPACE = "argocd"
STAGE_DELAY_MS = 300  # every kwok pod stage (create, init containers, ready, Job pod complete): 0.3 s + up to 0.3 s
NODES = ("kwok-node-0", "kwok-node-1")


def kubeconfig_path() -> Path:
    return pins.state() / "kubeconfig"


def env_file() -> Path:
    return pins.state() / "env"


def pki_dir() -> Path:
    return pins.state() / "pki"


def say(text: str) -> None:
    print(f"churnops cluster: {text}", flush=True)


def read_env() -> dict[str, str]:
    if not env_file().exists():
        return {}
    return dict(line.split("=", 1) for line in env_file().read_text().splitlines() if "=" in line)


def kubectl(*args: str, stdin: str | None = None, check: bool = True, kubeconfig: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    # Discovery cached with the cluster, not in ~/.kube/cache (keyed by host:port, which later clusters reuse).
    result = subprocess.run([str(KUBECTL), f"--kubeconfig={kubeconfig or kubeconfig_path()}",
                             f"--cache-dir={pins.state() / 'kubectl-cache'}", *args], input=stdin,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise SystemExit(f"churnops cluster: kubectl {' '.join(args)[:300]} failed: {result.stderr.strip()[:3000]}")
    return result


def established(crds: list[str]) -> bool:
    found = kubectl("get", *crds, "-o", "json", check=False, timeout=30)
    items = json.loads(found.stdout)["items"] if found.returncode == 0 else []
    return len(items) == len(crds) and all(
        any(c["type"] == "Established" and c["status"] == "True" for c in (i.get("status", {}).get("conditions") or []))
        for i in items)


def apply(objects: list[dict], *, server_side: bool = True) -> None:
    """Apply objects; Namespaces and CRDs first, and the CRDs Established before anything else."""
    first = [o for o in objects if o["kind"] in ("Namespace", "CustomResourceDefinition")]
    rest = [o for o in objects if o["kind"] not in ("Namespace", "CustomResourceDefinition")]
    if first and rest:
        apply(first, server_side=server_side)
        crds = [f"crd/{o['metadata']['name']}" for o in first if o["kind"] == "CustomResourceDefinition"]
        if crds:
            processes.wait_for(f"{len(crds)} CRDs Established", lambda: established(crds), 60, "kube-apiserver")
        objects = rest
    if not objects:
        return
    text = yaml.safe_dump_all(objects, sort_keys=False)
    flags = ["--server-side", "--force-conflicts", "--field-manager=churnops-cluster"] if server_side else []
    kubectl("apply", *flags, "-f", "-", stdin=text, timeout=300)


# ---------------------------------------------------------------------------------------------------------------
# certificates and credentials


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", f"/CN={name}",
            "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.crt"))


def make_cert(folder: Path, ca: str, name: str, dns: list[str], ips: list[str]) -> None:
    sans = ",".join([f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips])
    (folder / f"{name}.ext").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={dns[0]}", "-keyout", str(folder / f"{name}.key"),
            "-out", str(folder / f"{name}.csr"))
    openssl("x509", "-req", "-in", str(folder / f"{name}.csr"), "-CA", str(folder / f"{ca}.crt"), "-CAkey",
            str(folder / f"{ca}.key"), "-CAcreateserial", "-days", "30", "-extfile", str(folder / f"{name}.ext"),
            "-out", str(folder / f"{name}.crt"))


def make_pki() -> str:
    pki_dir().mkdir(parents=True, exist_ok=True)
    make_ca(pki_dir(), "ca")
    make_cert(pki_dir(), "ca", "apiserver", ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                       "kubernetes.default.svc.cluster.local", "localhost"], ["127.0.0.1", "10.96.0.1"])
    openssl("genrsa", "-out", str(pki_dir() / "sa.key"), "2048")
    openssl("rsa", "-in", str(pki_dir() / "sa.key"), "-pubout", "-out", str(pki_dir() / "sa.pub"))
    token = base64.b32encode(os.urandom(20)).decode().lower()
    (pki_dir() / "tokens.csv").write_text(f"{token},churnops-admin,churnops-admin,system:masters\n")
    return token


def write_kubeconfig(path: Path, port: int, token: str) -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "churnops-local",
        "clusters": [{"name": "churnops-local", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                            "certificate-authority": str(pki_dir() / "ca.crt")}}],
        "users": [{"name": "churnops-admin", "user": {"token": token}}],
        "contexts": [{"name": "churnops-local", "context": {"cluster": "churnops-local", "user": "churnops-admin"}}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


# ---------------------------------------------------------------------------------------------------------------
# the core: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok


def start_core(ports: dict[str, int], token: str) -> None:
    k8s = pins.components()["kubernetes"]
    proxy_map = pins.state() / "netproxy.json"
    proxy_map.write_text("{}")
    proxy_socket = pins.state() / "run" / "netproxy.sock"
    processes.start("netproxy", [sys.executable, "-m", "scripts.cluster.netproxy",
                                 "--socket", str(proxy_socket), "--map", str(proxy_map)], cwd=ROOT)
    processes.wait_for("the network proxy", proxy_socket.exists, 20, "netproxy")
    egress = pins.state() / "egress-selector.yaml"
    egress.write_text(yaml.safe_dump({
        "apiVersion": "apiserver.k8s.io/v1beta1", "kind": "EgressSelectorConfiguration",
        "egressSelections": [{"name": "cluster", "connection": {
            "proxyProtocol": "HTTPConnect", "transport": {"uds": {"udsName": str(proxy_socket)}}}}]}))

    etcd_data = pins.state() / "etcd-data"
    shutil.rmtree(etcd_data, ignore_errors=True)
    client, peer = f"http://127.0.0.1:{ports['etcd']}", f"http://127.0.0.1:{ports['etcd_peer']}"
    processes.start("etcd", [str(pins.binary("etcd")), "--name=churnops", f"--data-dir={etcd_data}",
                             f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
                             f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                             f"--initial-cluster=churnops={peer}", "--unsafe-no-fsync", "--log-level=warn",
                             f"--listen-metrics-urls=http://127.0.0.1:{ports['etcd_metrics']}"])
    processes.wait_for("etcd", lambda: processes.port_open(ports["etcd"]), 30, "etcd")

    processes.start("kube-apiserver", [
        str(k8s.binary("kube-apiserver")), f"--etcd-servers={client}", "--bind-address=127.0.0.1",
        f"--secure-port={ports['apiserver']}", "--advertise-address=127.0.0.1",
        f"--tls-cert-file={pki_dir() / 'apiserver.crt'}", f"--tls-private-key-file={pki_dir() / 'apiserver.key'}",
        f"--client-ca-file={pki_dir() / 'ca.crt'}", f"--token-auth-file={pki_dir() / 'tokens.csv'}",
        "--authorization-mode=Node,RBAC", f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--service-account-key-file={pki_dir() / 'sa.pub'}", f"--service-account-signing-key-file={pki_dir() / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--egress-selector-config-file={egress}", "--endpoint-reconciler-type=none",
        "--shutdown-delay-duration=0s", "--shutdown-watch-termination-grace-period=0s", "--v=1"])
    processes.wait_for("kube-apiserver /readyz",
                       lambda: kubectl("get", "--raw=/readyz", check=False, timeout=5).returncode == 0, 90,
                       "kube-apiserver")
    common = [f"--kubeconfig={kubeconfig_path()}", "--leader-elect=false", "--bind-address=127.0.0.1"]
    processes.start("kube-controller-manager", [
        str(k8s.binary("kube-controller-manager")), *common, f"--secure-port={ports['kcm']}",
        f"--cert-dir={pins.state() / 'kcm-certs'}", f"--service-account-private-key-file={pki_dir() / 'sa.key'}",
        f"--root-ca-file={pki_dir() / 'ca.crt'}", "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--controllers=*,-nodeipam,-cloud-node-lifecycle",
        f"--authentication-kubeconfig={kubeconfig_path()}", f"--authorization-kubeconfig={kubeconfig_path()}", "--v=1"])
    processes.start("kube-scheduler", [
        str(k8s.binary("kube-scheduler")), *common, f"--secure-port={ports['scheduler']}",
        f"--cert-dir={pins.state() / 'scheduler-certs'}", f"--authentication-kubeconfig={kubeconfig_path()}",
        f"--authorization-kubeconfig={kubeconfig_path()}"])
    stages = pins.state() / "kwok-stages.yaml"
    stages.write_text(manifests.kwok_stages(STAGE_DELAY_MS))
    processes.start("kwok", [
        str(pins.binary("kwok")), f"--kubeconfig={kubeconfig_path()}", "--manage-all-nodes=true",
        f"--config={stages}", f"--server-address=127.0.0.1:{ports['kwok']}", "--cidr=10.244.0.0/16",
        "--node-ip=10.240.0.1", "--node-lease-duration-seconds=40"])
    apply([manifests.node(name) for name in NODES] + manifests.kwok_volume_objects(), server_side=False)
    processes.wait_for("the kwok nodes Ready", lambda: all(
        kubectl("get", "node", name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                check=False, timeout=5).stdout == "True" for name in NODES), 60, "kwok")
    processes.wait_for("the default ServiceAccount", lambda: kubectl(
        "-n", "default", "get", "serviceaccount", "default", check=False, timeout=5).returncode == 0, 60,
        "kube-controller-manager")


# ---------------------------------------------------------------------------------------------------------------
# Argo CD


def serviceaccount_token(namespace: str, name: str) -> str:
    return kubectl("-n", namespace, "create", "token", name, "--duration=48h").stdout.strip()


def in_cluster(name: str, namespace: str, serviceaccount: str, argv: list[str], ports: dict[str, int],
               env: dict[str, str] | None = None) -> None:
    """Run argv as a pod would see the API: KUBERNETES_SERVICE_HOST/PORT and, in a private mount
    namespace, /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace} (client-go's
    rest.InClusterConfig reads exactly these), so the process's `https://kubernetes.default.svc` is this cluster."""
    secrets = pins.state() / "serviceaccounts" / name
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "token").write_text(serviceaccount_token(namespace, serviceaccount))
    shutil.copy(pki_dir() / "ca.crt", secrets / "ca.crt")
    (secrets / "namespace").write_text(namespace)
    tmp = pins.state() / "tmp" / name
    tmp.mkdir(parents=True, exist_ok=True)
    script = ("mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && "
              f"mount --bind '{secrets}' /run/secrets/kubernetes.io/serviceaccount && exec \"$@\"")
    processes.start(name, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "-", *argv],
                    env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(ports["apiserver"]),
                         "TMPDIR": str(tmp), "HOME": str(tmp), **(env or {})}, cwd=tmp)


def start_argocd(ports: dict[str, int]) -> None:
    redis = shutil.which("redis-server")
    if not redis:
        raise SystemExit("churnops cluster: Argo CD needs Debian's redis-server: run `python3.11 scripts/bootstrap.py "
                         "redis` (make cluster-up does)")
    processes.start("redis", [redis, "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"])
    apply(manifests.argocd_objects(ARGOCD_NAMESPACE))
    argocd = pins.binary("argocd")
    links = pins.state() / "bin"
    links.mkdir(parents=True, exist_ok=True)
    for name in ("argocd-repo-server", "argocd-application-controller"):
        (links / name).unlink(missing_ok=True)
        (links / name).symlink_to(argocd)
    # the scripts upstream's image puts on the PATH (its Dockerfile copies them from hack/)
    for script in ("git-verify-wrapper.sh", "gpg-wrapper.sh"):
        shutil.copy(manifests.module_dir("argocd") / "hack" / script, links / script)
        (links / script).chmod(0o755)
    tools = f"{links}:{pins.binary('helm').parent}:{pins.binary('kustomize').parent}"
    path = f"{tools}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    redis_addr = f"127.0.0.1:{ports['redis']}"
    config = pins.state() / "argocd-config"  # what the pod has under /app/config (empty known_hosts, certs)
    for folder in ("ssh", "tls", "gpg/keys", "gpg/source"):
        (config / folder).mkdir(parents=True, exist_ok=True)
    (config / "ssh" / "ssh_known_hosts").touch()
    paths = {"PATH": path, "ARGOCD_SSH_DATA_PATH": str(config / "ssh"), "ARGOCD_TLS_DATA_PATH": str(config / "tls"),
             "ARGOCD_GNUPGHOME": str(config / "gpg" / "keys"), "ARGOCD_GPG_DATA_PATH": str(config / "gpg" / "source"),
             "ARGOCD_GPG_ENABLED": "false"}
    in_cluster("argocd-repo-server", ARGOCD_NAMESPACE, "argocd-repo-server", [
        str(links / "argocd-repo-server"), "--port", str(ports["repo_server"]), "--metrics-port",
        str(ports["repo_server_metrics"]), "--redis", redis_addr, "--loglevel", "info",
        # plaintext on loopback; v3.6.2 refuses --disable-tls beside its default (mTLS) client CA path
        "--disable-tls", "--client-ca-path="],
        ports, env={**paths, "ARGOCD_ASK_PASS_SOCK": str(pins.state() / "run" / "repo-server-askpass.sock")})
    processes.wait_for("argocd-repo-server", lambda: processes.port_open(ports["repo_server"]), 60,
                       "argocd-repo-server")
    in_cluster("argocd-application-controller", ARGOCD_NAMESPACE, "argocd-application-controller", [
        str(links / "argocd-application-controller"), "--repo-server", f"127.0.0.1:{ports['repo_server']}",
        "--repo-server-plaintext", "--redis", redis_addr, "--metrics-port", str(ports["controller_metrics"]),
        "--status-processors", "4", "--operation-processors", "4", "--app-resync", "60",
        "--self-heal-timeout-seconds", "2", "--loglevel", "info"], ports, env=paths)
    processes.wait_for("argocd-application-controller", lambda: processes.port_open(ports["controller_metrics"]),
                       60, "argocd-application-controller")


# ---------------------------------------------------------------------------------------------------------------
# KServe and Knative Serving


def start_serving(ports: dict[str, int]) -> None:
    proxy_map = pins.state() / "netproxy.json"
    knative, kserve = manifests.knative_objects(), manifests.kserve_objects()
    # CRDs, namespaces, RBAC, ConfigMaps and Services first; the webhook configurations once their servers run
    apply([o for o in knative + kserve if not manifests.is_webhook_configuration(o)] + manifests.crd_module_objects())
    kserve_certs = pins.state() / "tmp" / "kserve-controller" / "k8s-webhook-server" / "serving-certs"
    kserve_certs.mkdir(parents=True, exist_ok=True)
    make_cert(pki_dir(), "ca", "kserve-webhook", ["kserve-webhook-server-service.kserve.svc",
                                            "kserve-webhook-server-service.kserve.svc.cluster.local"], [])
    shutil.copy(pki_dir() / "kserve-webhook.crt", kserve_certs / "tls.crt")
    shutil.copy(pki_dir() / "kserve-webhook.key", kserve_certs / "tls.key")
    routes = {}
    for namespace, service, port, local in (("knative-serving", "webhook", 443, ports["knative_webhook"]),
                                            ("kserve", "kserve-webhook-server-service", 443, ports["kserve_webhook"])):
        ip = kubectl("-n", namespace, "get", "service", service, "-o", "jsonpath={.spec.clusterIP}").stdout
        routes[f"{ip}:{port}"] = local
    proxy_map.write_text(json.dumps(routes))

    kubeconfig = {"KUBECONFIG": str(kubeconfig_path())}
    for name, binary, deployment, port_env in (
            ("knative-webhook", pins.binary("knative-serving", "webhook"), "webhook", "knative_webhook"),
            ("knative-controller", pins.binary("knative-serving", "controller"), "controller", None)):
        env = manifests.knative_env(deployment)
        env.update(kubeconfig)
        env.update({"METRICS_PROMETHEUS_PORT": str(processes.free_port()),
                    "PROFILING_PORT": str(processes.free_port())})
        if port_env:
            env["WEBHOOK_PORT"] = str(ports[port_env])
        processes.start(name, [str(binary), f"--kubeconfig={kubeconfig_path()}"], env=env)
    processes.wait_for("the Knative webhook", lambda: processes.port_open(ports["knative_webhook"]), 60,
                       "knative-webhook")
    tmp = pins.state() / "tmp" / "kserve-controller"
    processes.start("kserve-controller", [
        str(pins.binary("kserve")), f"--kubeconfig={kubeconfig_path()}", f"--webhook-port={ports['kserve_webhook']}",
        f"--metrics-addr=127.0.0.1:{processes.free_port()}", f"--health-probe-addr=127.0.0.1:{ports['kserve_probe']}"],
        env={"POD_NAMESPACE": "kserve", "TMPDIR": str(tmp), **kubeconfig})
    processes.wait_for("the KServe webhook", lambda: processes.port_open(ports["kserve_webhook"]), 90,
                       "kserve-controller")
    time.sleep(2)  # a controller that cannot start (a missing ConfigMap, CRD) exits within this
    for name in ("knative-webhook", "knative-controller", "kserve-controller"):
        processes.wait_for(f"{name} to keep running", lambda n=name: processes.alive(n), 1, name)
    ca = base64.b64encode((pki_dir() / "ca.crt").read_bytes()).decode()
    apply([manifests.with_ca_bundle(o, ca) if manifests.is_kserve(o) else o
           for o in knative + kserve if manifests.is_webhook_configuration(o)])


# ---------------------------------------------------------------------------------------------------------------
# the verbs


# seconds between SIGTERM and SIGKILL: the apiserver and Knative's webhook drain for much longer
# than a throw-away cluster needs (the apiserver 25-30 s)
STOP_GRACE = {"kube-apiserver": 5.0, "knative-webhook": 3.0, "knative-controller": 3.0}
PORTS = ("etcd", "etcd_peer", "etcd_metrics", "apiserver", "kcm", "scheduler", "kwok", "redis",
         "repo_server", "repo_server_metrics", "controller_metrics", "git", "knative_webhook", "kserve_webhook",
         "kserve_probe")


def up() -> None:
    if any(processes.alive(name) for name in processes.order()):
        raise SystemExit("churnops cluster: a cluster of this checkout is already running (make cluster-status); "
                         "stop it first with `make cluster-down`")
    down(quiet=True)
    started = time.monotonic()
    pins.state().mkdir(parents=True, exist_ok=True)
    for stale in ("run", "logs", "pki", "tmp", "serviceaccounts", "git"):
        shutil.rmtree(pins.state() / stale, ignore_errors=True)
    try:
        start_all()
    except BaseException:
        say("up failed: stopping what it started (logs stay in " f"{processes.logs_dir()})")
        down(quiet=True)
        raise
    say(f"up in {time.monotonic() - started:.0f} s: KUBECONFIG={kubeconfig_path()}, endpoints in {env_file()}")


# Knative's controller serves its health probes on ":8080", fixed in knative.dev/pkg
# (injection.HealthCheckDefaultPort, injection/sharedmain/main.go; no flag or env changes it)
KNATIVE_PROBE_PORT = 8080


def start_all() -> None:
    started = time.monotonic()
    if not processes.port_free_everywhere(KNATIVE_PROBE_PORT):
        raise SystemExit(f"churnops cluster: port {KNATIVE_PROBE_PORT} is taken, and Knative's controller binds it on "
                         "every address for its health probes (fixed in knative.dev/pkg: injection.HealthCheckDefaultPort)."
                         f" Stop what listens there (`ss -ltnp 'sport = :{KNATIVE_PROBE_PORT}'`; `churnops serve` "
                         "defaults to it: give it --port) or another running cluster (make cluster-down), then run "
                         "cluster up again")
    ports = dict(zip(PORTS, processes.free_ports(len(PORTS)), strict=True))
    token = make_pki()
    write_kubeconfig(kubeconfig_path(), ports["apiserver"], token)
    say(f"starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1 ({pins.state()})")
    start_core(ports, token)
    say(f"control plane up in {time.monotonic() - started:.0f} s; starting Argo CD, Knative Serving, KServe")
    start_argocd(ports)
    start_serving(ports)
    gitserver.start(ports["git"])
    env = {
        "KUBECONFIG": str(kubeconfig_path()), "KUBE_APISERVER": f"https://127.0.0.1:{ports['apiserver']}",
        "ETCD_ENDPOINT": f"http://127.0.0.1:{ports['etcd']}", "ARGOCD_NAMESPACE": ARGOCD_NAMESPACE,
        "ARGOCD_REPO_SERVER": f"127.0.0.1:{ports['repo_server']}", "REDIS": f"127.0.0.1:{ports['redis']}",
        "GIT_URL": gitserver.url(ports["git"]), "KWOK_NODES": ",".join(NODES),
        "KSERVE_WEBHOOK": f"https://127.0.0.1:{ports['kserve_webhook']}",
        "KNATIVE_WEBHOOK": f"https://127.0.0.1:{ports['knative_webhook']}",
        "CLUSTER_LOGS": str(processes.logs_dir()),
    }
    env_file().write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    (pins.state() / "ports.json").write_text(json.dumps(ports, indent=1))


def down(quiet: bool = False) -> None:
    names = processes.order()
    stopped = [done for name in reversed(names)
               if (done := processes.stop(name, grace=STOP_GRACE.get(name, 10.0)))]
    processes.order_file().unlink(missing_ok=True)
    env_file().unlink(missing_ok=True)
    if not quiet:
        say(f"stopped {len(stopped)} processes" + (f": {', '.join(stopped)}" if stopped else " (nothing was running)"))


def status() -> int:
    names = processes.order()
    if not names:
        say("not running (make cluster-up)")
        return 1
    dead = [name for name in names if not processes.alive(name)]
    for name in names:
        state = f"running (pid {processes.pid_of(name)})" if name not in dead else "NOT RUNNING"
        print(f"  {name:32} {state:24} {processes.log_path(name)}")
    for name in dead:
        print(f"--- {name}: last lines of {processes.log_path(name)}\n{processes.log_tail(name, 15)}")
    return 1 if dead else 0


# What (re)creates the bundle's pods, outermost first: KServe and Knative make the predictor's Deployment
POD_OWNERS = ("inferenceservices.serving.kserve.io", "services.serving.knative.dev", "configurations.serving.knative.dev",
              "revisions.serving.knative.dev", "deployments.apps", "statefulsets.apps", "replicasets.apps", "jobs.batch")


def reset(namespaces: tuple[str, ...], timeout: float = 90) -> None:
    """Back to an empty cluster (CRDs and the platform stay) between two scenarios: every Application
    and AppProject of Argo CD goes (finalizers dropped: Argo CD's cascade is not under test here) and so
    do `namespaces` with everything in them (kube-controller-manager's namespace controller, kwok
    removing the pods)."""
    for kind in ("applications.argoproj.io", "appprojects.argoproj.io"):
        names = kubectl("-n", ARGOCD_NAMESPACE, "get", kind, "-o", "name").stdout.split()
        for name in names:
            kubectl("-n", ARGOCD_NAMESPACE, "patch", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
                    check=False)
        if names:
            kubectl("-n", ARGOCD_NAMESPACE, "delete", *names, "--wait=true", check=False)
    present = [n for n in namespaces if kubectl("get", "namespace", n, check=False).returncode == 0]
    for namespace in present:
        # The namespace controller waits out the longest terminationGracePeriodSeconds of the pods it
        # finds (30 s by default) before it looks again (kubernetes v1.35.8 pkg/controller/namespace/
        # deletion/namespaced_resources_deleter.go estimateGracefulTerminationForPods), a minute and
        # more per scenario on a loaded machine. So the pods go first: their owners without cascading
        # (nothing recreates them), then the pods at once (kwok runs no process to stop).
        kubectl("-n", namespace, "delete", ",".join(POD_OWNERS), "--all", "--cascade=orphan", "--wait=false",
                "--ignore-not-found", check=False)
        kubectl("-n", namespace, "delete", "pods", "--all", "--force", "--grace-period=0", "--ignore-not-found",
                check=False)
    if present:
        kubectl("delete", "namespace", *present, "--wait=false")
    kubectl("delete", "clusterroles,clusterrolebindings", "-l", "app.kubernetes.io/part-of=churnops",
            "--ignore-not-found", check=False)
    processes.wait_for(f"namespaces {', '.join(present)} deleted", lambda: all(
        kubectl("get", "namespace", n, check=False).returncode != 0 for n in present), timeout,
        "kube-controller-manager")
