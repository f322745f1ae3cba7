"""Integrity and evidence: content digests and idempotency keys today; signatures, trust store
and the evidence log arrive with the signatures issue."""
