# The operator image: slim, non-root, the package and its dependencies only, and the helm CLI the chart path
# runs (built from the same Go module as `make test` builds it: localcluster/go/helm).
FROM golang:1.26 AS helm
WORKDIR /src
COPY localcluster/go/helm/go.mod localcluster/go/helm/go.sum ./
RUN CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0" -o /helm helm.sh/helm/v3/cmd/helm

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels cniupgrade \
    && rm -rf /wheels \
    && useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin cniupgrade
COPY --from=helm /helm /usr/local/bin/helm
# helm's caches go under /tmp (the root filesystem is read-only; deploy/ mounts /tmp)
ENV HELM_BINARY=/usr/local/bin/helm
USER 65532:65532
# 8080: liveness/readiness probes; 9090: Prometheus metrics
EXPOSE 8080 9090
ENTRYPOINT ["cniupgrade", "run"]
