"""Where the hub's signing key and its trust store come from.

Configuration only, so real certificates drop in without a code change:
- ``HUB_SIGNING_KEY``: a key source (``file:``, ``pkcs12:``, ``env:``, ``pkcs11:``; see
  :func:`signing.keys.load_identity`). Unset: the hub identity of the development PKI under
  ``var/pki`` (``hub pki init`` creates it), which is marked DEV ONLY in every certificate.
- ``HUB_TRUST_STORE``: a folder of PEM certificates (roots, and intermediates the partners do
  not send). Unset: the development PKI's trust folder.

Both are loaded once per process: every task in a worker reuses them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from signing.errors import KeySourceError
from signing.keys import SigningIdentity, load_identity
from signing.pki import HUB, DevPki, default_pki_dir, init_dev_pki
from signing.trust import TrustStore


def _dev_pki() -> DevPki:
    folder = default_pki_dir()
    if not (folder / "root-ca.cert.pem").exists():
        raise KeySourceError(
            f"no signing key configured (HUB_SIGNING_KEY) and no development PKI in {folder}: "
            "run `hub pki init` for development, or configure the organisation's key"
        )
    return init_dev_pki(folder)  # keeps the existing PKI; only the hub's identity and the trust store are read


@lru_cache(maxsize=1)
def hub_identity() -> SigningIdentity:
    source = os.environ.get("HUB_SIGNING_KEY")
    return load_identity(source) if source else _dev_pki().identity(HUB)


@lru_cache(maxsize=1)
def trust_store() -> TrustStore:
    folder = os.environ.get("HUB_TRUST_STORE")
    return TrustStore.from_folder(Path(folder)) if folder else _dev_pki().trust_store()
