"""Airflow DAGs of the hub; also an installed package so DAG files share `dags.common`."""
