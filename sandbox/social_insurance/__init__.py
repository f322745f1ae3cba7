"""Simulator of the social-insurance system (REST behind the NGSP gateway, on ``sandbox.ngsp``)."""
