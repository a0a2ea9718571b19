"""The one image every component runs in, declared once.

Built from the repository's `Dockerfile`: Python 3.11, the pinned dependency set
(constraints.txt) and churnops itself, so `install_kfp_package=False` is safe (kfp is in it)
and no step pip-installs anything at run time.
"""

COMPONENT_IMAGE = "ghcr.io/churnops/churnops:0.1.0"
