"""Simulator of the Ministry of Justice civil-status system (REST behind the NGSP gateway, on ``sandbox.ngsp``)."""
