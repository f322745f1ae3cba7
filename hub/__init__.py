"""Hanoi dossier integration hub: store, pipelines, jobs, command line."""

from hub.observability.logging import install as _install_log_masking

# Every process that imports the hub masks personal numbers in its logs (see hub.observability.logging).
_install_log_masking()
