"""The ``hub`` command line: one module per command group, :mod:`hub.cli.main` wires them."""
