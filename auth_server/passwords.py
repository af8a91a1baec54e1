"""Users' passwords: hashed with Argon2id; hashes made the older way still verify.

OWASP's Password Storage Cheat Sheet puts Argon2id first, with m=19 MiB, t=2, p=1 as its
minimum: about 20 ms a check here, where werkzeug's scrypt default took 96 ms
(docs/security.md). A stored hash names its scheme and its parameters, so a hash made
before (werkzeug's scrypt or pbkdf2) still verifies, and needs_rehash says when a
user's next sign-in should store the password again, the current way.
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

# OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB of memory, 2 passes, 1 lane.
# (PasswordHasher makes Argon2id by default, with a random 16-byte salt per hash.)
ARGON2ID = PasswordHasher(memory_cost=19 * 1024, time_cost=2, parallelism=1)


def hash_password(password, method):
    """A salted hash of the password: Argon2id, or a werkzeug method (TESTS ONLY, see config.py)."""
    if method == "argon2id":
        return ARGON2ID.hash(password)
    return generate_password_hash(password, method)


def verify_password(stored_hash, password):
    """True if the password matches the stored hash, whichever scheme made it."""
    if stored_hash.startswith("$argon2"):
        try:
            return ARGON2ID.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    return check_password_hash(stored_hash, password)


def needs_rehash(stored_hash, method):
    """True if the stored hash was not made by this method with today's parameters."""
    if method == "argon2id":
        return not stored_hash.startswith("$argon2") or ARGON2ID.check_needs_rehash(stored_hash)
    return stored_hash.split("$")[0] != method
