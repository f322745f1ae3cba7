"""Simulator of the driving-licence service (session API through the NGSP)."""
