"""Simulator of the social-insurance system (SOAP, on ``sandbox.soap``)."""
