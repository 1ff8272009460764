"""The Airflow login, checked by Airflow's own code, with a short cache in front of it.

A request carries the JWT the api-server's `POST /auth/token` issued, as `Authorization: Bearer
<token>` (API clients) or as the UI's `_token` cookie (a browser signed in to the Airflow UI). It
is validated by the configured auth manager's `get_user_from_token` (signature, expiry,
audience, revocation: Airflow's JWTValidator with the [api_auth] settings). Inside the
api-server that is the api-server's own auth manager; in `make serve` the same class is built
from the same configuration, and the local runtime gives every process the same
AIRFLOW__API_AUTH__JWT_SECRET, so a token is valid against both.

A validated token is remembered for SERVE_TOKEN_CACHE_SECONDS (never past its own expiry):
validation costs about a millisecond and a metadata-database query (the revocation list), which
would otherwise dominate the latency. A token revoked by a logout therefore stays usable here
for at most that long.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from include import config

log = logging.getLogger(__name__)

COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
MAX_CACHED = 10_000


class NotAuthenticated(Exception):
    """No token, or one Airflow does not accept (the message says which)."""


def _auth_manager():
    """The api-server's auth manager when running inside it, else one built from the config."""
    from airflow.api_fastapi.app import create_auth_manager, get_auth_manager

    try:
        return get_auth_manager()
    except RuntimeError:  # not inside the api-server: `make serve`, tests
        return create_auth_manager()


def token_from(authorization: str | None, cookie: str | None) -> str | None:
    """The bearer token of the Authorization header, else the UI's cookie (as Airflow does)."""
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return cookie or None


@dataclass
class TokenCache:
    """token -> (trusted until (monotonic), user name)."""

    seconds: float = config.SERVE_TOKEN_CACHE_SECONDS
    _entries: dict[str, tuple[float, str]] = field(default_factory=dict)

    def warm(self) -> None:
        """Build the auth manager now rather than at the first request."""
        _auth_manager()

    async def user(self, token: str | None) -> str:
        """The user name of a valid token; raises NotAuthenticated."""
        if not token:
            raise NotAuthenticated(
                "not authenticated: send the Airflow token as 'Authorization: Bearer <token>'"
            )
        now = time.monotonic()
        hit = self._entries.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        import jwt

        try:
            user = await _auth_manager().get_user_from_token(token)
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated(
                "token expired: get a new one from the api-server's POST /auth/token"
            ) from None
        except jwt.InvalidTokenError as err:
            raise NotAuthenticated(f"invalid token: {err}") from None
        # Airflow has verified the token; its expiry only bounds how long the cache trusts it.
        expires_at = jwt.decode(token, options={"verify_signature": False}).get("exp")
        left = self.seconds if expires_at is None else min(self.seconds, expires_at - time.time())
        if len(self._entries) >= MAX_CACHED:
            self._entries.clear()
        self._entries[token] = (now + left, user.get_name())
        return user.get_name()


def mint_token(username: str = config.AIRFLOW_ADMIN_USER, role: str = "ADMIN") -> str:
    """A token as the api-server's POST /auth/token would issue it (the auth manager's own
    signer and the shared JWT secret), for tools and tests when no api-server runs. Needs the
    local runtime's environment (tools.runtime.configure_environment)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return _auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))
