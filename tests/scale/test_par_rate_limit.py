"""The PAR rate limit on PostgreSQL: one count per client, shared by every worker and replica.

Concurrent pushes from one client, each in its own thread (its own connection and
transaction, as separate workers or replicas would have): exactly PAR_RATE_LIMIT are
stored, the rest refused with 429, whatever the interleaving.
"""

from concurrent.futures import ThreadPoolExecutor

from auth_server import create_app
from auth_server.config import database_url
from auth_server.models import db

LIMIT = 20
SEED = {"client_id": "seed-cli", "client_secret": "seed-cli-secret", "redirect_uri": "https://jwt.io",
        "scope": "openid", "response_type": "code"}


def test_concurrent_pushes_are_counted_exactly(postgres_url):
    """40 pushes at once against a limit of 20: 20 stored, 20 refused, none lost or double-counted."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(postgres_url), "PAR_RATE_LIMIT": LIMIT,
                      "PAR_RATE_WINDOW": 3600, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1"})

    def push(_):
        """One push from seed-cli, on a test client of its own."""
        return app.test_client().post("/oauth/par", data=SEED).status_code

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(push, range(2 * LIMIT)))
    finally:
        with app.app_context():
            db.engine.dispose()  # close the pool's connections to the test server
    assert sorted(statuses) == [201] * LIMIT + [429] * LIMIT
