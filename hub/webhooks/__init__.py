"""The hub's own HTTP receiver for carrier callbacks (``hub webhooks serve``), separate from Airflow."""
