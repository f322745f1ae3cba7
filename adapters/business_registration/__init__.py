"""Client for the national business registration system (REST/JSON via the LGSP; openapi.yaml beside it)."""
