"""The payment platform's double and golden messages (``tests.support.payment_platform``)."""

from tests.support.payment_platform import day_platform, platform

__all__ = ["day_platform", "platform"]
