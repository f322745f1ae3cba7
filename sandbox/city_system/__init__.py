"""Simulator of Hanoi's city dossier system: a seeded day generator and its REST API."""
