"""Simulator of the national business registration system (REST/JSON via the LGSP)."""
