"""The verbs of the local control plane (docs/kubernetes.md, "The local control plane"):

  build            build every pinned upstream component from source (cached; see versions.toml)
  up               build if needed, start everything, write .churnops/cluster/{kubeconfig,env}
  down             stop everything `up` started, in reverse order (safe to run twice)
  status           which processes run, with the log tail of any that died
  gitops --env E   sync environment E through Argo CD from the loopback git server and wait for
                   every Application Synced and Healthy (or say which is not, and why)
"""

from __future__ import annotations

import argparse

from scripts.cluster import build, plane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("build", help="build every pinned component (cached)").add_argument("names", nargs="*")
    verbs.add_parser("up", help="start the control plane")
    verbs.add_parser("down", help="stop it")
    verbs.add_parser("status", help="what runs")
    gitops = verbs.add_parser("gitops", help="sync an environment through Argo CD and wait")
    gitops.add_argument("--env", required=True, help="an environment of k8s/overlays")
    gitops.add_argument("--timeout", type=float, default=300, help="seconds to wait for all-green")
    args = parser.parse_args(argv)
    if args.verb == "build":
        build.build_all(args.names)
    elif args.verb == "up":
        build.build_all()
        plane.up()
    elif args.verb == "down":
        plane.down()
    elif args.verb == "status":
        return plane.status()
    elif args.verb == "gitops":
        from scripts.cluster import gitops as sync

        return sync.main(args.env, args.timeout)
    return 0
