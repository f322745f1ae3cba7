"""The hook builds the carriers' working clients from ``AIRFLOW_CONN_*`` URIs, signing where the carrier does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from adapters.hooks import PartnerHook
from mappings.postal.s10 import is_valid_s10
from signing.pki import DevPki
from tests.support.postal_sandboxes import (
    CUSTOMER_CODE,
    RIGS,
    USERNAME,
    WEBHOOK_SECRET,
    CarrierRig,
    Sandbox,
    order_request,
)

pytestmark = pytest.mark.timeout(120)

SECRET = "hook-pw/7:@e"  # URI-special characters on purpose
ACCOUNTS = {  # the login and the extra holding the callback credential
    "vnpost": (CUSTOMER_CODE, "webhook_secret"),
    "viettel_post": (USERNAME, "webhook_token"),
}


@pytest.fixture(params=RIGS, ids=str)
def carrier(request: pytest.FixtureRequest, tmp_path: Path, dev_pki: DevPki) -> Iterator[tuple[CarrierRig, Sandbox]]:
    rig: CarrierRig = request.param
    sandbox = rig.start(tmp_path, dev_pki, SECRET)
    yield rig, sandbox
    sandbox.server.stop()


def test_the_hook_builds_a_client_that_places_and_tracks_orders(
    carrier: tuple[CarrierRig, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, sandbox = carrier
    login, extra = ACCOUNTS[rig.name]
    host = sandbox.url.removeprefix("http://")
    uri = f"http://{quote(login, safe='')}:{quote(SECRET, safe='')}@{host}?{extra}={WEBHOOK_SECRET}&timeout=5"
    monkeypatch.setenv(f"AIRFLOW_CONN_{rig.name.upper()}", uri)
    client = PartnerHook(rig.name).get_client()
    assert client.name == rig.name and PartnerHook(rig.name).get_client() is client
    signatures = client.transport.signatures
    # requests signed where the carrier takes signatures; replies checked only when the Connection asks
    # (no carrier is shown to sign its replies: adapters.partners.Partner.replies_signed)
    assert (signatures.identity is not None, signatures.trust is not None) == (rig.signed, False)
    placed = client.create_order(order_request(1))
    if rig.name == "viettel_post":  # its own order number, and tracking is a request to replay callbacks
        assert placed.item_code is None and placed.order_id.isdigit()
        assert client.track([placed.order_id]) == {}
        assert sandbox.get("/sandbox/stats")["calls"]["registerOrderHook"] == 1
        return
    assert placed.item_code is not None and is_valid_s10(placed.item_code)
    assert [e.status_code for e in client.track([placed.order_id])[placed.order_id]] == ["1"]


@pytest.mark.parametrize("rig", RIGS, ids=str)
def test_a_connection_without_the_callback_credential_is_refused_by_name(
    rig: CarrierRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    login, extra = ACCOUNTS[rig.name]
    monkeypatch.setenv("AIRFLOW_CONN_CARRIER_INCOMPLETE", f"http://{quote(login, safe='')}:pw@127.0.0.1:9")
    with pytest.raises(ValueError, match=extra) as caught:
        PartnerHook(rig.name, "carrier_incomplete").get_client()
    assert ":pw@" not in str(caught.value)
