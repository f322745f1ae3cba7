"""Simulator of the national public-service portal's LGSP-style JSON adapter."""
