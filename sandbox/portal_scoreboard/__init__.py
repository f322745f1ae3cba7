"""Sandbox double of the national portal's public Decision 766 scoreboard."""
