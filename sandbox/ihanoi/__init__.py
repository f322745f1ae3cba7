"""Sandbox double of the iHaNoi notification API (an assumed contract, docs/interfaces.md 13)."""
