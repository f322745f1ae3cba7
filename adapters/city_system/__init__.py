"""Client for the city dossier system REST API (docs/interfaces.md section 1)."""
