# syntax=docker/dockerfile:1
# The hub on the official Airflow image: one image for every Airflow component (scheduler,
# dag-processor, triggerer, api-server, Celery workers, KubernetesExecutor pods) and for the
# hub's own processes (webhook receiver, sandbox partners); the command picks the role.
#
# The slim variant: the full image preinstalls dozens of providers whose pins would fight
# uv.lock; slim carries Airflow alone and uv.lock adds exactly what the hub runs.
# The tag must name the apache-airflow version uv.lock pins (tests/deploy/test_files.py checks).

# -- requirements: uv.lock -> a hash-pinned requirements file, without touching the final image's uv
# (written to /tmp: WORKDIR may create its folder for root, and this stage runs as airflow)
FROM apache/airflow:slim-3.3.2-python3.11 AS requirements
WORKDIR /tmp/hub
COPY pyproject.toml uv.lock ./
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv export --frozen --no-dev --no-emit-project --output-file /tmp/requirements.txt

# -- the image
FROM apache/airflow:slim-3.3.2-python3.11

# WeasyPrint's system libraries (Pango, HarfBuzz subsetting, fontconfig) for the signed PDF
# reports, and the fonts the report stylesheet names (Liberation, DejaVu: both have the
# Vietnamese glyphs). Versions come from the base image's Debian release (pinning point
# releases would break every security update).
USER 0
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core fonts-liberation \
 && apt-get autoremove -yqq --purge \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o airflow -g root -m 0775 /opt/hub /opt/hub/var
# The base image's non-root `airflow` user (uid 50000, group root as OpenShift expects).
USER 50000

# Generated state (store file in the embedded setup, dev PKI, reports, sandbox data) goes under
# /opt/hub/var, a volume in docker-compose.yml; the store and secrets come from the environment.
ENV GX_ANALYTICS_ENABLED=false \
    HUB_VAR_DIR=/opt/hub/var \
    AIRFLOW_CONFIG=/opt/hub/airflow.cfg \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/hub/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/hub/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/hub

# Dependencies first (cached while only the code changes): every wheel checked against the
# hashes uv.lock records. apache-airflow is pinned there to the base image's version, so pip
# keeps the image's Airflow instead of replacing it.
COPY --from=requirements --chown=airflow:root /tmp/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# Every package pyproject's wheel target ships, plus what the code reads beside them at run
# time: airflow.cfg. Editable, because the code finds airflow.cfg next to its packages
# (hub.paths.REPO_ROOT).
COPY --chown=airflow:root pyproject.toml uv.lock README.md airflow.cfg ./
COPY --chown=airflow:root adapters ./adapters
COPY --chown=airflow:root mappings ./mappings
COPY --chown=airflow:root signing ./signing
COPY --chown=airflow:root quality ./quality
COPY --chown=airflow:root hub ./hub
COPY --chown=airflow:root sandbox ./sandbox
COPY --chown=airflow:root dags ./dags
COPY --chown=airflow:root plugins ./plugins
RUN pip install --no-cache-dir --no-deps --editable .

# Liveness of the job this container runs (scheduler, triggerer, dag-processor); docker-compose.yml
# and the Helm chart give the api-server and the Celery workers their own probes.
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=5 \
  CMD ["airflow", "jobs", "check", "--local", "--limit", "1"]
