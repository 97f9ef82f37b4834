"""Password hashing with scrypt (memory-hard), in a self-describing format.

`scrypt$<n>$<r>$<p>$<salt>$<hash>` records its own cost, so the cost can rise later
without invalidating stored hashes. Hashing runs in a thread: it takes tens of
milliseconds of CPU and must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1  # 16 MiB of memory per hash
KEY_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=256 * n * r * p
    )


def _hash(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def _verify(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, base64.b64decode(expected))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hash, password)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(_verify, password, stored)


@functools.cache
def _unknown_user_hash() -> str:
    return _hash(secrets.token_hex(16))


async def verify_unknown_user(password: str) -> bool:
    """Spend the time a real check takes, so response times do not reveal which emails exist."""
    await verify_password(password, _unknown_user_hash())
    return False
