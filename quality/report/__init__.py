"""Reconciliation reports people read (issue 6): HTML with charts, CSV, JSON and a signed PDF.

Renders only from the reconciliation document (``Reconciliation.to_dict()``, schema
``hub.reconciliation/3``), never from the store, so a saved JSON can be re-rendered at any time.
"""

from quality.report.pdf import verify_report_pdf
from quality.report.view import ReportDocumentError
from quality.report.writer import ReportFiles, write_reconciliation_report

__all__ = ["ReportDocumentError", "ReportFiles", "verify_report_pdf", "write_reconciliation_report"]
