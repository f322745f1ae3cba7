"""The notifications identity as the report prints it: every outcome a term, "too old" among them,
so the printed line adds up by hand in both languages."""

from __future__ import annotations

from dataclasses import asdict

from hub.store.notifications import NotificationCounts
from quality.reconcile.notifications import notification_identity
from quality.report.view import identity_view, printed_sum


def test_events_too_old_to_tell_are_a_term_and_the_printed_sum_adds_up() -> None:
    counts = NotificationCounts.of({"acknowledged": 1_200, "pending": 3, "failed": 2, "dead": 40}, too_old=310)
    identity = notification_identity(asdict(counts)).to_dict()
    assert identity["holds"] and identity["left"] == 1_555
    for language in ("en", "vi"):
        view = identity_view(identity, language)
        left, right = printed_sum(view["with_figures"], language)
        assert left == right == 1_555, view["with_figures"]
    assert "too old, not sent (notifications_too_old)" in identity_view(identity, "en")["formula"]
    assert identity["formula"] == "notifications planned = sent + pending + refused + too old"


def test_a_too_old_record_left_out_of_the_outcomes_breaks_the_identity() -> None:
    counts = NotificationCounts(planned=10, sent=8, pending=0, refused=1, too_old=0)
    assert not notification_identity(asdict(counts)).holds
    assert NotificationCounts(planned=10, sent=8, pending=0, refused=1, too_old=1).holds
