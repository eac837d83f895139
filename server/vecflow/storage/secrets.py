"""Keys every replica on one database shares, created by whichever server starts first."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vecflow.storage import models as m
from vecflow.storage.db import Database


async def shared_secret(db: Database, name: str, size: int = 32) -> bytes:
    """The secret called `name`; made (random, `size` bytes) if no server has made it yet."""
    async with db.read_session() as s:
        value = await s.scalar(select(m.ServerSecret.value).where(m.ServerSecret.name == name))
    if value is not None:
        return bytes(value)
    try:
        async with db.session() as s:
            s.add(m.ServerSecret(name=name, value=secrets.token_bytes(size)))
    except IntegrityError:
        pass  # another replica made it first: read theirs
    async with db.read_session() as s:
        value = await s.scalar(select(m.ServerSecret.value).where(m.ServerSecret.name == name))
    assert value is not None
    return bytes(value)
