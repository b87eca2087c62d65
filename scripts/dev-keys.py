"""Generate the dev keys into var/keys/ (git-ignored), or leave them as they are: `make setup`
runs this every time, and it changes only what is missing or stale.

    issuer.jwk.json       private Ed25519 key omsctl and the tests sign tokens with (0600)
    jwks.json             the public keys services trust by default in dev (OMS_JWKS_FILE)
    service-tokens.json   a long-lived `service` token per tenant (OMS_SERVICE_TOKEN_FILE)

    python scripts/dev-keys.py             # create or complete
    python scripts/dev-keys.py --rotate    # a new issuer key; the old public key stays trusted

Tenants: every tenants/<id>.toml. Services never see the private key; in production the plant's
own issuer holds it and services are given its JWKS (OMS_JWKS_FILE or OMS_JWKS_URL).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omsctl.tokens import ensure_dev_keys  # noqa: E402
from services.chassis.settings import DEV_KEYS_DIR  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=pathlib.Path, default=DEV_KEYS_DIR, help=f"default {DEV_KEYS_DIR}")
    parser.add_argument("--rotate", action="store_true", help="new issuer key, old public key kept")
    args = parser.parse_args()
    tenants = sorted(p.stem for p in (ROOT / "tenants").glob("*.toml"))
    for line in ensure_dev_keys(args.dir, tenants, rotate=args.rotate):
        print(f"dev keys: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
