"""Accounts, projects and API keys; turning a presented key into a Principal."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, replace

from vecflow.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from vecflow.ids import new_id
from vecflow.storage import auth as store
from vecflow.storage import locks
from vecflow.storage import models as m
from vecflow.storage.db import Database, IntegrityError
from vecflow.storage.models import utcnow

KEY_PREFIX = "vf_"
MIN_KEY_LENGTH = 20


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's account and project, and whom they act for."""

    account_id: str
    project_id: str
    key_id: str
    on_behalf_of: str = ""


@dataclass(frozen=True)
class IssuedKey:
    """A new API key. `secret` is shown once and never stored."""

    key_id: str
    account_id: str
    project_id: str
    secret: str


def hash_key(secret: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 is a sufficient one-way hash.
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class AuthService:
    """Creates tenants and keys, and authenticates calls (with a short positive cache)."""

    def __init__(self, db: Database, cache_seconds: float = 10.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def authenticate(self, secret: str, selected_account: str = "", on_behalf_of: str = "") -> Principal:
        """The principal for a presented key; UNAUTHENTICATED when it is unknown or revoked."""
        if not secret:
            raise Unauthenticated(
                "missing API key: send metadata 'x-api-key: <key>' or 'authorization: Bearer <key>'",
                reason="API_KEY_MISSING",
            )
        digest = hash_key(secret)
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            principal = cached[1]
        else:
            async with self.db.read_session() as s:
                row = await store.key_by_hash(s, digest)
            if row is None or row.revoked_at is not None:
                self._cache.pop(digest, None)
                raise Unauthenticated("the API key is not valid (unknown or revoked)", reason="API_KEY_INVALID")
            principal = Principal(account_id=row.account_id, project_id=row.project_id, key_id=row.id)
            self._cache[digest] = (time.monotonic() + self.cache_seconds, principal)
        if selected_account and selected_account != principal.account_id:
            raise PermissionDenied(
                "x-selected-account-id does not match the API key's account; drop the header or use a key of "
                "that account",
                reason="ACCOUNT_MISMATCH",
            )
        return replace(principal, on_behalf_of=on_behalf_of[:256]) if on_behalf_of else principal

    async def create_account(self, name: str) -> m.Account:
        async with self.db.session() as s:
            if await store.account_named(s, name):
                raise InvalidArgument.field("name", f"an account named {name!r} already exists")
            account = m.Account(id=new_id("account"), name=name)
            s.add(account)
        return account

    async def create_project(self, account_id: str, name: str) -> m.Project:
        async with self.db.session() as s:
            if await s.get(m.Account, account_id) is None:
                raise NotFound.resource("account", account_id)
            project = m.Project(id=new_id("project"), account_id=account_id, name=name)
            s.add(project)
        return project

    async def create_key(self, project_id: str, name: str = "", secret: str | None = None) -> IssuedKey:
        """Issue a key for a project (and so for its account). Give `secret` to import a known key."""
        secret = secret or generate_secret()
        if len(secret) < MIN_KEY_LENGTH:
            raise InvalidArgument.field("key", f"must be at least {MIN_KEY_LENGTH} characters")
        async with self.db.session() as s:
            project = await s.get(m.Project, project_id)
            if project is None:
                raise NotFound.resource("project", project_id)
            key = m.ApiKey(
                id=new_id("api_key"),
                account_id=project.account_id,
                project_id=project.id,
                name=name,
                prefix=secret[:10],
                key_hash=hash_key(secret),
            )
            s.add(key)
        return IssuedKey(key.id, key.account_id, key.project_id, secret)

    async def revoke_key(self, key_id: str) -> None:
        async with self.db.session() as s:
            key = await s.get(m.ApiKey, key_id)
            if key is None:
                raise NotFound.resource("api key", key_id)
            key.revoked_at = utcnow()
            self._cache.pop(key.key_hash, None)

    async def list_accounts(self) -> list[m.Account]:
        async with self.db.read_session() as s:
            return await store.list_accounts(s)

    async def list_projects(self, account_id: str = "") -> list[m.Project]:
        async with self.db.read_session() as s:
            return await store.list_projects(s, account_id)

    async def list_keys(self, project_id: str = "") -> list[m.ApiKey]:
        async with self.db.read_session() as s:
            return await store.list_keys(s, project_id)

    async def bootstrap(self, secret: str = "") -> IssuedKey | None:
        """On an empty database, create the default account, project and a key; else do nothing.

        One transaction, under an advisory lock on PostgreSQL: of replicas starting together on an empty
        database exactly one creates them (the account name is unique besides, should the lock be bypassed)."""
        secret = secret or generate_secret()
        if len(secret) < MIN_KEY_LENGTH:
            raise InvalidArgument.field("key", f"must be at least {MIN_KEY_LENGTH} characters")
        try:
            async with self.db.session() as s:
                await locks.hold_in(s, locks.BOOTSTRAP)
                if await store.any_account(s):
                    return None
                account = m.Account(id=new_id("account"), name="default")
                project = m.Project(id=new_id("project"), account_id=account.id, name="default")
                key = m.ApiKey(
                    id=new_id("api_key"),
                    account_id=account.id,
                    project_id=project.id,
                    name="bootstrap",
                    prefix=secret[:10],
                    key_hash=hash_key(secret),
                )
                s.add(account)
                await s.flush()
                s.add(project)
                await s.flush()
                s.add(key)
        except IntegrityError:
            return None  # another server bootstrapped meanwhile
        return IssuedKey(key.id, key.account_id, key.project_id, secret)
