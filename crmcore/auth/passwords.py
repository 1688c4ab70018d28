"""Password hashing with Argon2id.

Parameters follow the OWASP password storage recommendation for Argon2id (19 MiB memory,
2 iterations, 1 lane): about 40 ms per hash on a small server, which keeps login and the
test suite quick while making offline guessing expensive. Stored hashes carry their own
parameters, so raising them later only needs ``needs_rehash`` at the next login.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

# Verified when the email is unknown, so a wrong email costs as long as a wrong password
# and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not a real password; only used for constant-time refusals")


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be used, or None when it can."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    if not password.strip():
        return "must not be blank"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch or an unusable stored hash.

    An empty ``password_hash`` (unknown account, or one without a password) still costs one
    full verification before failing.
    """
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


async def hash_password_async(password: str) -> str:
    """Hash in a worker thread: Argon2 is deliberately slow and would stall the event loop."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)
