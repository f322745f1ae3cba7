#!/usr/bin/env bash
# Run a command with the sandbox partners' Airflow Connections (AIRFLOW_CONN_*).
# The sandbox draws fresh credentials at every start and keeps them only in its state file
# (var/sandbox/state.json, mode 600, on the shared hub-var volume), so they are read from there
# when a container starts, through the same hub.connections helper `hub demo` uses.
set -euo pipefail
exports="$(python - <<'PY'
import shlex

from hub.connections import sandbox_connections
from sandbox.runner import default_data_dir, read_state

state = read_state(default_data_dir())
if state is None:
    raise SystemExit(f"no sandbox state in {default_data_dir()}: is the sandbox service up?")
for name, value in sandbox_connections(state).items():
    print(f"export {name}={shlex.quote(value)}")
PY
)"
eval "$exports"
exec "$@"
