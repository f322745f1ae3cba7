"""The national portal's payment platform: its client and its confirmation callbacks."""
