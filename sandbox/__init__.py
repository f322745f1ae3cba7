"""Partner simulators (city dossier system, national portal) served over loopback HTTP for tests and demos."""
