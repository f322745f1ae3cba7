"""The portal's figure explained: how many dossiers it holds, and which road each reached it by.

The portal holds more Hanoi dossiers than the city system because ministry systems sync the
dossiers processed on their software to it themselves; the city used to trim its quarterly
figures by hand to hide that. This part of the document states the portal's figure instead, as a
sum of named parts: the city's dossiers, those each ministry's pull-back explains (one term per
ministry of the registry, zeros included, so "civil status 0" is a finding too), those no source
of the hub explains (listed as ``extra_at_portal`` without a ministry), less what the portal
should hold and does not. It reads the portal identity's terms and the engine's ``portal_extra``
table, so it can never disagree with them.
"""

from __future__ import annotations

from typing import Any

import duckdb

from adapters.partners import ministries
from mappings.sources import PULLBACK_PREFIX
from quality.reconcile.model import Identity

# A number several pull-backs hold (processed twice on ministry software) is counted once, under
# the first source by name, so the per-ministry terms still add up to ``ministry_only``.
_BY_MINISTRY = """
SELECT m.source, count(*)
FROM portal_extra e
JOIN (SELECT dossier_no, min(source) AS source FROM ministry GROUP BY 1) m USING (dossier_no)
GROUP BY 1 ORDER BY 1
"""


def explain_portal(db: duckdb.DuckDBPyConnection, portal: Identity) -> dict[str, Any]:
    """``portal = city + sum(by_ministry) + portal_only - not_integrated - missing_at_portal``, with
    ``holds`` saying whether it does (an ``unexpected`` dossier breaks it, as in the identity)."""
    found = dict(db.execute(_BY_MINISTRY).fetchall())
    sources = [PULLBACK_PREFIX + partner for partner in ministries()]
    by_ministry = [{"source": s, "dossiers": int(found.pop(s, 0))} for s in sources]
    by_ministry += [{"source": s, "dossiers": int(n)} for s, n in sorted(found.items())]  # not in the registry
    terms = portal.terms
    explained = (
        terms["city"]
        + sum(row["dossiers"] for row in by_ministry)
        + terms["portal_only"]
        - terms["not_integrated"]
        - terms["missing_at_portal"]
    )
    return {
        "portal": terms["portal"],
        "city": terms["city"],
        "by_ministry": by_ministry,
        "portal_only": terms["portal_only"],
        "not_integrated": terms["not_integrated"],
        "missing_at_portal": terms["missing_at_portal"],
        "unexpected": terms["unexpected"],
        "holds": explained == terms["portal"],
    }
