# The operator image: non-root, read-only friendly, the package and its dependencies in a venv, and the helm CLI
# the chart path runs. Everything it copies is made beforehand (`make image-context`: wheels for Python 3.11 and
# helm built from localcluster/go/helm), so the build itself needs no network:
#   make image-context && docker build -t cniupgrade .
# `make image` builds it without a registry or a daemon: BASE is then a Debian bookworm made by mmdebstrap.
ARG BASE=python:3.11-slim
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/cniupgrade/bin:${PATH}
# A venv: Debian's own python is externally managed. pip and setuptools are not needed at run time.
RUN --mount=type=bind,source=.cache/image/wheels,target=/wheels \
    python3 -m venv /opt/cniupgrade \
    && /opt/cniupgrade/bin/pip install --no-cache-dir --no-index --find-links /wheels cniupgrade \
    && /opt/cniupgrade/bin/pip uninstall --yes --quiet pip setuptools \
    && groupadd --gid 65532 cniupgrade \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cniupgrade
COPY .cache/image/helm /usr/local/bin/helm
# helm's caches go under /tmp (the root filesystem is read-only; deploy/ mounts /tmp)
ENV HELM_BINARY=/usr/local/bin/helm
USER 65532:65532
# 8080: liveness/readiness probes; 9090: Prometheus metrics
EXPOSE 8080 9090
ENTRYPOINT ["cniupgrade", "run"]
