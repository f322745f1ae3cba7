"""Airflow-free steps of the DAGs: each DAG task is one call into this package."""
