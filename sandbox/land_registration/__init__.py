"""Simulator of the VBDLIS land registration system (REST/JSON through the NGSP)."""
