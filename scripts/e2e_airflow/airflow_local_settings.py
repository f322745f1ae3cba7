"""Airflow settings for the distributed end-to-end run only (``scripts/e2e_distributed.py`` puts this
folder on every Airflow process's ``PYTHONPATH``); production never loads it.

- ``task_policy``: the hub's DAGs wait 2 minutes (doubling) before a retry, right for a partner
  outage; here a task is retried after a killed worker, and the run must fit a CI budget, so
  retries wait a few seconds. Nothing else about the tasks changes.
- ``worker_hostname``: both Celery workers run on this one machine, so the fully qualified domain
  name cannot tell them apart; each records the name it was started with (``HUB_E2E_HOSTNAME``)
  on the task instances it runs, as two machines would record theirs.
- In a worker (the only process started with ``HUB_E2E_HOSTNAME``), the hub's job modules are
  imported here, once: Celery forks every task from this process, so each task starts with pandas,
  Great Expectations and the adapters already loaded instead of importing them again (tens of
  seconds per task on two busy cores). A production worker image should preload them the same way.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

__all__ = ["task_policy"]

RETRY_DELAY = timedelta(seconds=3)


def task_policy(task) -> None:
    task.retry_delay = RETRY_DELAY


if os.environ.get("HUB_E2E_HOSTNAME"):
    pass


def worker_hostname() -> str:
    return os.environ.get("HUB_E2E_HOSTNAME") or socket.getfqdn()
