"""Simulator of the unemployment-benefit system (an assumed REST/JSON contract through the NGSP)."""
