"""Simulator of the Ministry of Justice civil-status system (SOAP, on ``sandbox.soap``)."""
