# The component image: every pipeline step (and the schedules sync Job) runs in it.
# Tag it ghcr.io/churnops/churnops:<version>, the version in churnops/__init__.py (components/images.py
# derives the tag the pipelines use from it; tests/k8s check every manifest uses the same):
#   docker build -t ghcr.io/churnops/churnops:$(python -c 'import churnops; print(churnops.__version__)') .
# kfp is installed here, which is why the components set install_kfp_package=False and no step
# pip-installs anything at run time.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/churnops
# Dependencies first, from the pinned set, so code changes do not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir -p churnops components pipelines \
    && echo '__version__ = "0.0.0"' > churnops/__init__.py \
    && touch components/__init__.py pipelines/__init__.py \
    && pip install -c constraints.txt . \
    && pip uninstall -y churnops
COPY churnops ./churnops
COPY components ./components
COPY pipelines ./pipelines
COPY scripts ./scripts
# The schedules sync Job reads these: schedules/<env>.yaml and the platform files they name.
COPY schedules ./schedules
COPY config ./config
RUN pip install --no-deps -c constraints.txt . \
    && useradd --uid 10001 --create-home churnops
USER 10001
