"""iHaNoi, Hanoi's citizen app: its notification API (an assumed contract, docs/interfaces.md 13)."""
