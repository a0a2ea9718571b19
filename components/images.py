"""The one image every component runs in, declared once; its tag is the package version.

Built from the repository's `Dockerfile`: Python 3.11, the pinned dependency set
(constraints.txt) and churnops itself, so `install_kfp_package=False` is safe (kfp is in it)
and no step pip-installs anything at run time.
"""

from churnops import __version__

IMAGE_REPOSITORY = "ghcr.io/churnops/churnops"
COMPONENT_IMAGE = f"{IMAGE_REPOSITORY}:{__version__}"
