"""Simulator of the electronic certification system (an assumed REST/JSON contract through the NGSP)."""
