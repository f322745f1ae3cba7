"""The names the hub files records under: which side a staged dossier came from, whom the outbox delivers to.

Written by the pipeline when it stages and delivers, read by the reconciliation when it compares the
sides; both depend on these, so they live below both rather than in either.
"""

CITY_SOURCE = "city"  # staged_dossier.source of the city system's records
PULLBACK_PREFIX = "ministry:"  # + the ministry's partner id: the source of its pulled-back dossiers
PORTAL = "national_portal"  # the outbox partner of the portal sync
