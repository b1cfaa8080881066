"""Tokens and who may use them: the JWT itself, 401 for every bad bearer, users kept apart."""

import hashlib
import hmac
import json
import subprocess

import pytest
import requests

from tokend_client import (
    TIMEOUT,
    Client,
    assert_error,
    b64url_decode,
    b64url_encode,
    jwt_parts,
    sleep_until_expired,
    token_id,
)


def bearer(tokend, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.get(tokend.url + "/tokens", headers=headers, timeout=TIMEOUT)


def test_token_id_is_the_sha256_of_its_text(alice):
    made = alice.create(60)
    assert made["id"] == hashlib.sha256(made["token"].encode()).hexdigest()
    assert made["id"] in alice.listed_ids()


def test_token_header_is_rs256_jwt(alice):
    header, _ = jwt_parts(alice.create(60)["token"])
    assert header["alg"] == "RS256"
    assert header.get("typ", "JWT") == "JWT"


def test_token_claims_are_iss_aud_sub_iat_exp_jti(alice, bob):
    made = alice.create(3600)
    _, claims = jwt_parts(made["token"])
    assert claims["iss"] == "rerobots.net"
    assert claims["aud"] == "rerobots.net"
    assert claims["sub"] == "alice"
    assert claims["iat"] == made["created"]
    assert claims["exp"] == made["expires"] == claims["iat"] + 3600
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert jwt_parts(alice.create(3600)["token"])[1]["jti"] != claims["jti"]
    assert jwt_parts(bob.token)[1]["sub"] == "bob"


def test_missing_authorization_is_401(tokend):
    message = assert_error(bearer(tokend, None), 401)
    assert message == "wrong authorization token"


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Bearer not-a-jwt", "Bearer a.b.c", "Basic YWxpY2U6cHc=", "Bearer " + "x" * 5000],
    ids=["empty", "scheme-only", "scheme-space", "not-jwt", "three-garbage-parts", "basic", "huge"],
)
def test_malformed_bearer_is_401(tokend, authorization):
    tokend.add_user("alice")
    assert assert_error(bearer(tokend, authorization), 401) == "wrong authorization token"


def test_token_without_bearer_scheme_is_401(tokend):
    assert_error(bearer(tokend, tokend.add_user("alice")), 401)


def test_badly_signed_token_is_401(tokend):
    token = tokend.add_user("alice")
    header, claims, signature = token.split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    assert_error(bearer(tokend, f"Bearer {header}.{claims}.{flipped}"), 401)
    assert bearer(tokend, "Bearer " + token).status_code == 200


def test_token_with_changed_claims_is_401(tokend):
    header, claims, signature = tokend.add_user("alice").split(".")
    forged = json.loads(b64url_decode(claims))
    forged["sub"] = "bob"
    tokend.add_user("bob")
    forged_claims = b64url_encode(json.dumps(forged).encode())
    assert_error(bearer(tokend, f"Bearer {header}.{forged_claims}.{signature}"), 401)


def test_token_signed_by_another_service_is_401(tokend, tokend_factory):
    tokend.add_user("alice")
    other = tokend_factory()
    assert_error(bearer(tokend, "Bearer " + other.add_user("alice")), 401)


def test_unsigned_token_is_401(tokend):
    _, claims, _ = tokend.add_user("alice").split(".")
    header = b64url_encode(b'{"alg":"none","typ":"JWT"}')
    assert_error(bearer(tokend, f"Bearer {header}.{claims}."), 401)


def test_hs256_token_keyed_with_the_public_key_is_401(tokend):
    _, claims, _ = tokend.add_user("alice").split(".")
    public_key = subprocess.run(
        ["openssl", "pkey", "-pubout"], input=tokend.signing_key_pem(), check=True, capture_output=True,
    ).stdout
    header = b64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    signature = hmac.new(public_key, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert_error(bearer(tokend, f"Bearer {header}.{claims}.{b64url_encode(signature)}"), 401)


def test_expired_token_is_401(tokend):
    token = tokend.add_user("alice", "2s")
    assert bearer(tokend, "Bearer " + token).status_code == 200
    sleep_until_expired(jwt_parts(token)[1]["exp"])
    assert assert_error(bearer(tokend, "Bearer " + token), 401) == "wrong authorization token"


def test_revoked_token_is_401(alice):
    made = alice.create(60)
    client = Client(alice.tokend, made["token"])
    assert client.get("/tokens").status_code == 200
    alice.post(f"/revoke/{made['id']}")
    assert assert_error(client.get("/tokens"), 401) == "wrong authorization token"


def test_revoked_token_stays_401_after_restart(tokend, alice):
    made = alice.create(60)
    alice.post(f"/revoke/{made['id']}")
    tokend.stop()
    tokend.start()
    assert_error(Client(tokend, made["token"]).get("/tokens"), 401)


def test_unauthenticated_request_carries_no_rate_limit_headers(tokend):
    response = bearer(tokend, None)
    assert "X-RateLimit-Remaining" not in response.headers


def test_users_see_only_their_own_tokens(alice, bob):
    alices = {token_id(alice.token), alice.create(60)["id"]}
    bobs = {token_id(bob.token), bob.create(60)["id"]}
    assert alice.listed_ids() == alices
    assert bob.listed_ids() == bobs


def test_user_cannot_get_another_users_token(alice, bob):
    assert_error(bob.get(f"/token/{alice.create(60)['id']}"), 404)


def test_user_cannot_revoke_another_users_token(alice, bob):
    made = alice.create(60)["id"]
    assert_error(bob.post(f"/revoke/{made}"), 404)
    assert made in alice.listed_ids()
