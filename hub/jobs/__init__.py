"""One module per flow, one function per DAG task: build what the step needs, run it, return a
small JSON-able result.

DAG files stay wiring only and call these with clients their Airflow hooks built; the demo, the
benchmarks and the tests call the same functions, so there is one code path whether or not a
scheduler is involved. Results are references and counts (batch ids, numbers), never data: they
travel as XComs.
"""
