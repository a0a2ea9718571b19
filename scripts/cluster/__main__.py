"""`python -m scripts.cluster build|up|down|status|gitops` (the Makefile's cluster-* targets)."""

import sys

from scripts.cluster.cli import main

sys.exit(main())
