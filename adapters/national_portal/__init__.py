"""Client for the national public-service portal LGSP-style JSON API (docs/interfaces.md section 2)."""
