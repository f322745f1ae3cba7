"""Who may call the business-registration simulator, and the error codes a refusal carries
(DOMAIN.md, "Ministry systems": 100 auth, 101 IP not allowed, 106 unknown agency, 201 not found).

Real ministry gateways check three things before any business logic: the credential, the caller's
IP address against an allow-list (agencies register their egress addresses), and the agency code
the caller speaks for. They are checked here in that order, so a test can provoke each refusal by
changing one setting. (The SOAP simulators get the same checks from ``sandbox.soap``.)
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AUTH_FAILED",
    "INTERNAL",
    "IP_NOT_ALLOWED",
    "LOOPBACK",
    "MALFORMED",
    "NOT_FOUND",
    "OK",
    "UNKNOWN_AGENCY",
    "Access",
    "Refusal",
]

OK = 0
AUTH_FAILED = 100
IP_NOT_ALLOWED = 101
UNKNOWN_AGENCY = 106
NOT_FOUND = 201
MALFORMED = 300  # as the national portal: the request breaks the contract (e.g. a window over 5 days)
INTERNAL = 500

LOOPBACK = frozenset({"127.0.0.1", "::1"})


@dataclass(frozen=True)
class Refusal:
    """An error code and the partner's message (Vietnamese, as the real systems answer)."""

    code: int
    message: str


class Access:
    """The credential, allowed caller addresses and agency codes of one simulator."""

    def __init__(self, secret: str, agencies: Iterable[str], allowed_ips: Iterable[str] = LOOPBACK) -> None:
        if not secret:
            raise ValueError("a non-empty credential is required")
        self._secret = secret.encode()
        self.agencies = frozenset(agencies)
        self.allowed_ips = frozenset(allowed_ips)

    def check(self, secret: str | None, client_ip: str | None, agency: str | None) -> Refusal | None:
        """Why the call is refused, or None when it may proceed."""
        if not hmac.compare_digest((secret or "").encode(), self._secret):
            return Refusal(AUTH_FAILED, "Xác thực không thành công: thông tin truy cập không hợp lệ")
        if client_ip not in self.allowed_ips:
            return Refusal(IP_NOT_ALLOWED, f"Địa chỉ IP {client_ip} không được phép truy cập dịch vụ")
        if agency not in self.agencies:
            return Refusal(UNKNOWN_AGENCY, f"Mã đơn vị {agency!r} không tồn tại hoặc chưa được cấp quyền")
        return None
