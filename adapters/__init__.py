"""Clients for the hub's partners, all built on one template.

``transport.HttpTransport`` (timeouts, TLS, retries with jittered backoff, circuit breaker,
exchange reports) carries every JSON adapter; ``errors`` is the taxonomy callers decide on;
``city_system`` and ``national_portal`` hold one client and one OpenAPI contract each;
``hooks`` is the only module that knows about Airflow; ``partners`` declares every partner once
(light on purpose: the DAG files read it at parse time, and this package imports nothing else).
"""
