"""Value lists of the national portal's ``DongBoHoSoMC`` record that no public source defines.

docs/interfaces.md section 2.5-2.6 marks each of these an **assumption**: public clients send the
keys, but only one or two literal values each, and the document that would define the lists (the
Government Office's integration guide v1.4, section 3.2, "G14" in the ledger) could not be read.
They live here, in one versioned place, so that when the portal operator confirms a list exactly
one constant changes and the version below says which reading the hub sent.

Every value is a string: every public client sends codes and flags as strings.
"""

from __future__ import annotations

from typing import Final

PORTAL_CODES_VERSION: Final = "2026-12-07"
"""The reading of the lists below, as sent; bump it when any list changes."""

TRUE: Final = "1"
FALSE: Final = "0"

# ``isUpdating``: the strings O-I sends (its TRUE_KEY / FALSE_KEY), not JSON booleans.
IS_UPDATING: Final = {True: "True", False: "False"}
# ``TaiLieuNop[].IsDeleted``: "False" is observed for a live file; "True" for a withdrawn one is
# inferred from .NET's bool-to-string, never observed. The hub sends only live files.
NOT_DELETED: Final = "False"

# ``NoiNopHoSo``. ASSUMPTION: T-S, a provincial one-stop system, always sends "2" for its own
# dossiers, so "2" is read as "filed on the province's own system" and "1" as "filed on the
# national portal" (Decision 766 3.2 counts dossiers "marked as submitted from the national portal").
SUBMITTED_ON_PORTAL: Final = "1"
SUBMITTED_ON_OWN_SYSTEM: Final = "2"

# ``DuocThanhToanTrucTuyen``. F766 3.6: "1" paid online through the national portal's payment
# platform, "2" through the ministry's or province's own gateway; "0" (T-S's default) not paid
# online. An online payment whose gateway is unknown is sent as "1", as T-S does for any paid row.
NOT_PAID_ONLINE: Final = "0"
PAID_ONLINE: Final = {"national_portal": "1", "city": "2", None: "1"}

# ``DinhDanhCHS[].LoaiDinhDanh``. "1" (12-digit citizen ID) and "2" (9-digit old ID card) are T-S's;
# ASSUMPTION: "3" passport and "4" tax code, until the portal's list is known.
IDENTIFIER_KINDS: Final = {"citizen_id": "1", "id_card": "2", "passport": "3", "tax_code": "4"}

# ``DanhSachLePhi[].HinhThucThu``. ASSUMPTION: T-S sends the constant "1" for every row; the list
# itself is unknown, so the hub sends "1" too rather than invent meanings.
FEE_COLLECTION: Final = "1"

# ``DanhSachLePhi[].LoaiPhiLePhi``. ASSUMPTION: "1" fee ("lệ phí", T-S's constant), "2" charge
# ("phí"), read from the names of the two kinds of levy.
FEE: Final = "1"
CHARGE: Final = "2"

# ``DSKetNoiCSDL[].MaCSDL``: the canonical dossier already carries the portal's codes
# (``Dossier.consulted_databases``). ASSUMPTION: which code is which national database; T-S sends
# "7", T-L "1". The hub passes the codes through unchanged.

# ``TaiLieuNop[].DuocLayTuKhoDMQG`` (taken from the applicant's data store on the portal): the city
# record does not say, so "0". ``MaKetQuaThayThe``: meaning assumed from the name; "" as both clients.
NOT_FROM_PORTAL_STORE: Final = FALSE
NO_SUBSTITUTE_RESULT: Final = ""
