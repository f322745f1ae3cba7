"""Simulators of the postal carriers (VNPost through the LGSP, Viettel Post) that deliver results home."""
