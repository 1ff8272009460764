"""Tokens are checked by Airflow's own auth manager with the local runtime's shared secret."""

from __future__ import annotations

import asyncio
import time

import pytest

from include.serve import auth

pytestmark = pytest.mark.integration  # the auth manager reads Airflow's metadata database


def test_the_bearer_header_wins_over_the_cookie():
    assert auth.token_from("Bearer abc", "cookie") == "abc"
    assert auth.token_from("bearer  abc ", None) == "abc"
    assert auth.token_from("Basic abc", "cookie") == "cookie"
    assert auth.token_from(None, None) is None


def test_a_token_signed_like_the_api_servers_is_accepted_and_cached():
    cache = auth.TokenCache(seconds=30)
    token = auth.mint_token()
    assert asyncio.run(cache.user(token)) == "admin"
    trusted_until, user = cache._entries[token]
    assert user == "admin" and 25 < trusted_until - time.monotonic() <= 30
    assert asyncio.run(cache.user(token)) == "admin"  # from the cache


@pytest.mark.parametrize(
    ("token", "message"),
    [(None, "not authenticated"), ("", "not authenticated"), ("garbage", "invalid token")],
)
def test_missing_or_bad_tokens_are_refused(token, message):
    with pytest.raises(auth.NotAuthenticated, match=message):
        asyncio.run(auth.TokenCache().user(token))


def test_a_tampered_or_expired_token_is_refused():
    token = auth.mint_token()
    header, payload, signature = token.split(".")
    with pytest.raises(auth.NotAuthenticated, match="invalid token"):
        asyncio.run(auth.TokenCache().user(f"{header}.{payload}.{signature[:-4]}AAAA"))
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    expired = auth._auth_manager().generate_jwt(
        SimpleAuthManagerUser(username="admin", role="ADMIN"), expiration_time_in_seconds=-60
    )
    with pytest.raises(auth.NotAuthenticated, match="expired"):
        asyncio.run(auth.TokenCache().user(expired))
