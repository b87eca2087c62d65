"""Composition root of the identity service: sign-in and the user directory. It alone reads the
issuer's private key (OMS_ISSUER_KEY_FILE)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from oms.identity.v1 import identity_pb2, identity_pb2_grpc
from services.chassis.errors import AlreadyExists, DomainError, Unavailable
from services.chassis.identity import Identity, JwksError, verifier_for
from services.chassis.jobs import Job
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.chassis.settings import InvalidSetting, MissingSetting, Settings
from services.chassis.tenants import Tenant
from services.identity.adapters.customers import GrpcCustomerBook
from services.identity.adapters.passwords import Passwords
from services.identity.adapters.signing import Issuer
from services.identity.adapters.tables import metadata
from services.identity.api import IdentityApi
from services.identity.domain.model import SessionPolicy
from services.identity.service_layer import handlers
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork

log = logging.getLogger(__name__)
DAY_S = 24 * 3600
KEEP_ENDED_SESSIONS = timedelta(days=30)  # for the record (who was signed in when)
KEEP_FAILED_ATTEMPTS = timedelta(days=1)  # longer than any wait the throttle imposes


def load_issuer(settings: Settings) -> Issuer:
    """The private key, and a check that the services trust it: tokens signed with a key missing
    from the JWKS they verify with would be refused everywhere, one call at a time."""
    if not settings.issuer_key_file:
        raise MissingSetting("OMS_ISSUER_KEY_FILE is required: the token issuer's private key (a JWK file)")
    try:
        issuer = Issuer.from_file(settings.issuer_key_file)
    except FileNotFoundError:
        raise MissingSetting(
            f"OMS_ISSUER_KEY_FILE={settings.issuer_key_file} does not exist (in development: make setup)"
        ) from None
    except (OSError, ValueError) as exc:
        raise InvalidSetting(f"OMS_ISSUER_KEY_FILE={settings.issuer_key_file}: {exc}") from None
    try:
        trusted = verifier_for(settings.jwks_file, settings.jwks_url).keys.get(issuer.kid)
    except (OSError, JwksError) as exc:
        raise InvalidSetting(
            f"the public keys (OMS_JWKS_FILE / OMS_JWKS_URL) cannot be read: {exc}"
        ) from None
    if trusted is None or trusted.key.public_bytes_raw() != issuer.public_key().public_bytes_raw():
        raise InvalidSetting(
            f"the issuer key {issuer.kid!r} (OMS_ISSUER_KEY_FILE) is not among the public keys the "
            "services trust (OMS_JWKS_FILE / OMS_JWKS_URL): add its public half to the JWKS first"
        )
    return issuer


class _LazyCustomerBook:
    """The customer service's channel is made on first use: a lone identity process starts
    without OMS_CUSTOMER_ADDR and only portal accounts need it."""

    def __init__(self, ctx: ServiceContext):
        self._ctx = ctx
        self._book: GrpcCustomerBook | None = None

    def id_of(self, code: str) -> str | None:
        if self._book is None:
            self._book = GrpcCustomerBook(self._ctx.channel("customer"))
        return self._book.id_of(code)


def wire(ctx: ServiceContext) -> Wiring:
    settings = ctx.settings
    deps = handlers.Deps(
        uow=ctx.uow,
        passwords=Passwords(),
        issuer=load_issuer(settings),
        customers=_LazyCustomerBook(ctx),
        tenants=frozenset(settings.tenants),
        sessions=SessionPolicy(
            access_ttl=timedelta(seconds=settings.access_token_ttl_s),
            session_ttl=timedelta(seconds=settings.session_ttl_s),
        ),
    )

    def seed(tenant: Tenant) -> None:
        if settings.production and tenant.demo.users:
            # their passwords are in a public file: an administrator creates a plant's users
            log.warning("identity: demo users of %s not created (OMS_ENV=production)", tenant.tenant_id)
            return
        for u in tenant.demo.users:
            seed_user(tenant.tenant_id, u, deps)

    def purge(_tenant: str) -> None:
        now = datetime.now(UTC)
        with deps.uow() as uow:
            uow.sessions.purge_before(now - KEEP_ENDED_SESSIONS)
            uow.attempts.purge_before(now - KEEP_FAILED_ATTEMPTS)
            uow.commit()

    name = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
    return Wiring(
        bindings=[
            GrpcBinding(name, identity_pb2_grpc.add_IdentityServiceServicer_to_server, IdentityApi(deps))
        ],
        seed=seed,
        jobs=[Job("identity_purge", every_s=DAY_S, run=purge, per_tenant=False, first_after_s=600)],
    )


def seed_user(tenant_id: str, u, deps: handlers.Deps, wait_s: float = 60.0) -> None:
    """One demo account, once. A portal account asks the customer service for its customer's id:
    in the distributed stack that service may still be starting, so it is asked again for a while."""
    cmd = handlers.CreateUser(u.user, u.display_name, list(u.roles), u.customer, u.password)
    seeder = Identity(tenant_id, "seed", frozenset({"admin"}))
    give_up_at = time.monotonic() + wait_s
    while True:
        try:
            handlers.create_user(cmd, seeder, deps)
            return
        except AlreadyExists:
            return
        except Unavailable:
            if time.monotonic() > give_up_at:
                log.warning("demo user %s not created: the customer service did not answer", u.user)
                return
            time.sleep(1.0)
        except DomainError as exc:
            log.warning("demo user %s not created: %s", u.user, exc)
            return


definition = ServiceDefinition(
    name="identity",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={},
    unit_of_work=IdentityUnitOfWork,
    wire=wire,
)
