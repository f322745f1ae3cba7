"""The month's open datasets for the city data portal: built from the reconciliation's figures,
small cells suppressed, written as CSV, JSON and a DCAT description (docs/interfaces.md, 12)."""
