"""The national portal's payment platform, as a loopback double."""
