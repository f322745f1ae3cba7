"""The city data portal (CKAN action API): publishing the month's open datasets."""
