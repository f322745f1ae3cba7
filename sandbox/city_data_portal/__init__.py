"""The city data portal's double (a CKAN site's action API)."""
