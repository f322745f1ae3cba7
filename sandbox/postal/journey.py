"""The journey of one parcel in simulated time: when it is picked up, moved, attempted, delivered or
sent back -- decided once per order from the seed and the order reference, so a re-run replays it.

The shares follow what Hanoi's one-stop desks see: most results arrive in one to three days, some
need a second or third attempt (nobody home), a few go back to the sender after three failures,
and a few orders are cancelled by the carrier before pickup. Each carrier names the steps with its
own status codes (:data:`Step` kinds -> codes in its app).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Kind = Literal[
    "created",
    "awaiting_pickup",
    "picked_up",
    "at_office",
    "in_transit",
    "out_for_delivery",
    "failed_attempt",
    "delivered",
    "returning",
    "returned",
    "carrier_cancelled",
    "cancelled",
]
CANCELLABLE: frozenset[Kind] = frozenset({"created", "awaiting_pickup"})

DELIVERED_SHARE = 0.80  # first attempt succeeds
RETRIED_SHARE = 0.12  # one or two failed attempts, then delivered
RETURNED_SHARE = 0.05  # three failed attempts, then returned to the sender
# the rest (3 %): cancelled by the carrier before pickup
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Step:
    kind: Kind
    at: datetime


def journey(seed: int, reference: str, placed_at: datetime) -> list[Step]:
    """Every step the parcel will take, oldest first (the carrier shows those already in the past)."""
    rng = random.Random(f"{seed}:{reference}")
    clock = placed_at

    def after(low_minutes: int, high_minutes: int) -> datetime:
        nonlocal clock
        clock += timedelta(minutes=rng.randint(low_minutes, high_minutes))
        return clock

    steps = [Step("created", clock), Step("awaiting_pickup", after(1, 10))]
    fate = rng.random()
    if fate >= DELIVERED_SHARE + RETRIED_SHARE + RETURNED_SHARE:
        return [*steps, Step("carrier_cancelled", after(60, 360))]
    steps += [
        Step("picked_up", after(120, 480)),
        Step("at_office", after(30, 180)),
        Step("in_transit", after(180, 720)),
        Step("out_for_delivery", after(240, 960)),
    ]
    failures = 0
    if fate >= DELIVERED_SHARE + RETRIED_SHARE:
        failures = MAX_ATTEMPTS
    elif fate >= DELIVERED_SHARE:
        failures = rng.randint(1, MAX_ATTEMPTS - 1)
    for attempt in range(failures):
        steps.append(Step("failed_attempt", after(60, 300)))
        if attempt < MAX_ATTEMPTS - 1:
            steps.append(Step("out_for_delivery", after(960, 1440)))
    if failures == MAX_ATTEMPTS:
        return [*steps, Step("returning", after(120, 600)), Step("returned", after(1440, 2880))]
    return [*steps, Step("delivered", after(30, 300))]
