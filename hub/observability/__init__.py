"""What the operators see of the hub while it runs: metrics, alerts, structured logs.

Airflow-free like the rest of ``hub``: the DAGs' callbacks (``dags/common.py``) and the jobs call
in here, so the same numbers and alerts come out whether a scheduler, a test or the command line
drives the work.
"""
