"""Postal delivery of results: S10 item codes and carrier status mappings."""
