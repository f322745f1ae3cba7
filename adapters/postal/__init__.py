"""Postal carriers that deliver dossier results to citizens' homes: one interface, one client per carrier."""
