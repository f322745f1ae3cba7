"""iHaNoi, Hanoi's citizen app: its notification API.

An assumed contract: docs/interfaces.md, "iHaNoi notifications".
"""
