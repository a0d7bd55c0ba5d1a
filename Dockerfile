# StudentOps: Dagster webserver + daemon with the embedded Postgres (or an external one via
# STUDENTOPS_DATABASE_URL). State lives in the /data volume.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    STUDENTOPS_HOME=/data \
    RUNTIME__DLTHUB_TELEMETRY=false \
    STUDENTOPS_PG_LISTEN=*

# The embedded server refuses to run as root: run everything as an unprivileged user.
RUN useradd --create-home --uid 10001 studentops && mkdir -p /data /app && chown studentops /data /app
WORKDIR /app

COPY --chown=studentops pyproject.toml README.md ./
COPY --chown=studentops studentops_assets ./studentops_assets
COPY --chown=studentops resources ./resources
COPY --chown=studentops sensors ./sensors
RUN pip install -e .

COPY --chown=studentops dbt ./dbt
COPY --chown=studentops dagster.yaml workspace.yaml ./
USER studentops
# Parse the dbt project at build time so the code location starts without running dbt.
RUN python -c "from studentops_assets.warehouse.project import prepare_manifest; prepare_manifest()"

VOLUME ["/data"]
# 3000: Dagster UI. 54329: the embedded warehouse for BI tools (publish it only where you mean to).
EXPOSE 3000 54329
CMD ["studentops", "dev", "--host", "0.0.0.0", "--port", "3000"]
