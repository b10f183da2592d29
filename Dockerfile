# The operator image: slim, non-root, the package and its dependencies only.
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
USER 65532:65532
# 8080: liveness/readiness probes; 9090: Prometheus metrics
EXPOSE 8080 9090
ENTRYPOINT ["cniupgrade", "run"]
