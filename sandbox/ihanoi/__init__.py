"""Sandbox double of the iHaNoi notification API.

An assumed contract: docs/interfaces.md, "iHaNoi notifications".
"""
