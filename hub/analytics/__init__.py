"""The analytics warehouse: de-identified dossier facts and the daily reconciliation results as
Apache Iceberg tables, so the city's analysts (and Spark, Trino or DuckDB) query them without the
hub store or the personal data it holds (docs/architecture.md, "The analytics warehouse")."""
