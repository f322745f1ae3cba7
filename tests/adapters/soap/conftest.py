"""The SOAP template's tests.

``test_client.py`` exercised the template (WS-Security, XMLDSig, LGSP faults) through the old
population-database contract. The population database left the template (issue 15: it is reached
through the LGSP's JSON envelope, unsigned, with the register's own refusal codes, and
``tests/adapters/population_db`` covers it), so that module is not collected until it is ported to
a remaining SOAP partner or retired with the template -- an open item of the issue-15 report.
"""

collect_ignore = ["test_client.py"]
