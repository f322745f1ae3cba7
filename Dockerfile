# syntax=docker/dockerfile:1
# The hub on the official Airflow image: the same lock file as development, installed as the
# non-root `airflow` user the base image provides. One image serves every Airflow component
# (scheduler, dag-processor, triggerer, api-server, workers); the command picks the role.
FROM apache/airflow:3.3.2-python3.11

ENV GX_ANALYTICS_ENABLED=false \
    HUB_HOME=/opt/hub \
    AIRFLOW_CONFIG=/opt/hub/airflow.cfg \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/hub/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/hub
USER airflow

# Dependencies first (cached while only the code changes), exactly as uv.lock pins them.
COPY --chown=airflow:root pyproject.toml uv.lock README.md ./
RUN pip install --user uv==0.13.9 \
 && python -m uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && pip install --user -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY --chown=airflow:root airflow.cfg ./
COPY --chown=airflow:root config ./config
COPY --chown=airflow:root adapters ./adapters
COPY --chown=airflow:root mappings ./mappings
COPY --chown=airflow:root signing ./signing
COPY --chown=airflow:root quality ./quality
COPY --chown=airflow:root hub ./hub
COPY --chown=airflow:root sandbox ./sandbox
COPY --chown=airflow:root dags ./dags
RUN pip install --user --no-deps -e .

# Liveness of whichever Airflow job runs in this container (scheduler, triggerer, dag-processor).
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=5 \
  CMD airflow jobs check --local --limit 1 || exit 1
