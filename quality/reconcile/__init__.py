"""Record-level reconciliation (issue 6): which dossiers differ between sources, and why.

Airflow-free, like the rest of ``quality/``: the DAGs and the ``hub reconcile`` command are to
call :func:`reconcile` and write its :class:`Reconciliation` out.
"""

from quality.reconcile.engine import reconcile
from quality.reconcile.model import Difference, DifferenceClass, Identity, Kpi, Period, Reconciliation

__all__ = ["Difference", "DifferenceClass", "Identity", "Kpi", "Period", "Reconciliation", "reconcile"]
