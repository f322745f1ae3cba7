"""``python -m sandbox up|down|status|serve`` (see :mod:`sandbox.runner`)."""

from sandbox.runner import main

raise SystemExit(main())
