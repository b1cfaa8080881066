"""The calls of docs/openapi.yaml, row by row."""

import http.client
import json
import sqlite3
import threading
import time

import pytest
import requests

from tokend_client import Client, assert_error, sleep_until_expired, token_id

DAY = 86400


def test_list_shows_the_callers_active_tokens(alice):
    made = [alice.create(60)["id"], alice.create(120)["id"]]
    tokens = alice.listing()
    assert {token["id"] for token in tokens} == {token_id(alice.token), *made}
    for token in tokens:
        assert set(token) == {"id", "created", "expires"}
        assert isinstance(token["created"], int) and isinstance(token["expires"], int)


def test_list_with_token_adds_each_tokens_text(alice):
    alice.create(60)
    tokens = alice.listing(with_token=True)
    assert len(tokens) == 2
    for token in tokens:
        assert token_id(token["token"]) == token["id"]


def test_list_omits_revoked_tokens(alice):
    made = alice.create(60)["id"]
    assert alice.post(f"/revoke/{made}").status_code == 200
    assert made not in alice.listed_ids()


# Expiring tokens last 2 s: with whole seconds, a 1 s token made late in a
# second may be gone before the test's first look.
def test_list_omits_expired_tokens(alice):
    made = alice.create(2)
    assert made["id"] in alice.listed_ids()
    sleep_until_expired(made["expires"])
    assert made["id"] not in alice.listed_ids()


def test_head_of_list_carries_the_headers_without_body(alice):
    etag = alice.get("/tokens").headers["ETag"]
    response = alice.request("HEAD", "/tokens")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["ETag"] == etag


def test_create_answers_201_with_id_token_created_expires(alice):
    before = int(time.time())
    response = alice.post("/tokens", json={"duration": 3600})
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "token", "created", "expires"}
    assert body["id"] == token_id(body["token"])
    assert before <= body["created"] <= int(time.time())
    assert body["expires"] - body["created"] == 3600


def test_create_without_body_lasts_24h(alice):
    response = alice.post("/tokens")
    assert response.status_code == 201
    body = response.json()
    assert body["expires"] - body["created"] == DAY


def test_create_without_duration_lasts_24h(alice):
    body = alice.create()
    assert body["expires"] - body["created"] == DAY


def test_created_token_authenticates(alice):
    made = alice.create(60)
    client = Client(alice.tokend, made["token"])
    assert made["id"] in client.listed_ids()


def test_create_accepts_the_maximum_duration(tokend_factory):
    tokend = tokend_factory("--max-duration", "1h")
    client = Client(tokend, tokend.add_user("alice", "1h"))
    assert client.post("/tokens", json={"duration": 3600}).status_code == 201
    assert_error(client.post("/tokens", json={"duration": 3601}), 400)


def test_default_maximum_duration_is_365_days(alice):
    assert alice.post("/tokens", json={"duration": 365 * DAY}).status_code == 201
    assert_error(alice.post("/tokens", json={"duration": 365 * DAY + 1}), 400)


def test_idempotency_key_repeat_answers_the_same_token_with_200(alice):
    first = alice.post("/tokens", json={"duration": 60}, headers={"Idempotency-Key": "k1"})
    again = alice.post("/tokens", json={"duration": 60}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(alice.listing()) == 2


def test_idempotency_key_replay_of_a_revoked_token_is_409_and_makes_nothing(alice):
    first = alice.post("/tokens", json={"duration": 60}, headers={"Idempotency-Key": "k1"}).json()
    assert alice.post(f"/revoke/{first['id']}").status_code == 200
    before = alice.listed_ids()
    again = alice.post("/tokens", json={"duration": 60}, headers={"Idempotency-Key": "k1"})
    assert_error(again, 409)
    assert first["token"] not in again.text
    assert alice.listed_ids() == before


def test_idempotency_key_replay_of_an_expired_token_is_409(alice):
    first = alice.post("/tokens", json={"duration": 2}, headers={"Idempotency-Key": "k1"}).json()
    sleep_until_expired(first["expires"])
    again = alice.post("/tokens", json={"duration": 2}, headers={"Idempotency-Key": "k1"})
    assert_error(again, 409)
    assert first["token"] not in again.text


@pytest.mark.parametrize("body", [{"duration": 61}, {}], ids=["other-duration", "default-duration"])
def test_idempotency_key_with_another_body_is_422_and_makes_nothing(alice, body):
    first = alice.post("/tokens", json={"duration": 60}, headers={"Idempotency-Key": "k1"}).json()
    before = alice.listed_ids()
    again = alice.post("/tokens", json=body, headers={"Idempotency-Key": "k1"})
    assert_error(again, 422)
    assert first["token"] not in again.text
    assert alice.listed_ids() == before


def test_idempotency_key_with_the_same_request_in_other_bytes_is_a_replay(alice):
    first = alice.post("/tokens", headers={"Idempotency-Key": "k1"}).json()
    again = alice.post("/tokens", data=b'{ "duration" : 86400 }', headers={"Idempotency-Key": "k1"})
    assert again.status_code == 200
    assert again.json() == first


def test_idempotency_key_differs_makes_a_new_token(alice):
    first = alice.post("/tokens", headers={"Idempotency-Key": "k1"}).json()
    second = alice.post("/tokens", headers={"Idempotency-Key": "k2"})
    assert second.status_code == 201
    assert second.json()["id"] != first["id"]


def test_idempotency_key_belongs_to_its_user(alice, bob):
    mine = alice.post("/tokens", headers={"Idempotency-Key": "same"}).json()
    theirs = bob.post("/tokens", headers={"Idempotency-Key": "same"})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine["id"]


def test_idempotency_key_survives_a_restart(tokend, alice):
    first = alice.post("/tokens", headers={"Idempotency-Key": "restart"}).json()
    tokend.stop()
    tokend.start()
    again = Client(tokend, alice.token).post("/tokens", headers={"Idempotency-Key": "restart"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]


def test_get_token_answers_id_token_created_expires(alice):
    made = alice.create(60)
    response = alice.get(f"/token/{made['id']}")
    assert response.status_code == 200
    assert response.json() == made


def test_get_revoked_token_is_404(alice):
    made = alice.create(60)["id"]
    alice.post(f"/revoke/{made}")
    assert_error(alice.get(f"/token/{made}"), 404)


def test_get_expired_token_is_404(alice):
    made = alice.create(2)
    assert alice.get(f"/token/{made['id']}").status_code == 200
    sleep_until_expired(made["expires"])
    assert_error(alice.get(f"/token/{made['id']}"), 404)


def test_get_unknown_token_is_404(alice):
    assert_error(alice.get("/token/" + "0" * 64), 404)


def test_revoke_answers_200_and_the_token_is_gone(alice):
    made = alice.create(60)
    response = alice.post(f"/revoke/{made['id']}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert made["id"] not in alice.listed_ids()
    assert_error(Client(alice.tokend, made["token"]).get("/tokens"), 401)


def test_revoke_twice_is_200(alice):
    made = alice.create(60)["id"]
    assert alice.post(f"/revoke/{made}").status_code == 200
    assert alice.post(f"/revoke/{made}").status_code == 200


def test_revoke_unknown_token_is_404(alice):
    assert_error(alice.post("/revoke/" + "f" * 64), 404)


def test_purge_revokes_all_the_callers_tokens(alice, bob):
    made = alice.create(60)
    bobs = bob.listed_ids()
    assert alice.post("/purge").status_code == 200
    assert_error(Client(alice.tokend, made["token"]).get("/tokens"), 401)
    assert_error(alice.get("/tokens"), 401)
    assert bob.listed_ids() == bobs


def test_list_carries_an_etag_and_a_match_is_304_without_body(alice):
    first = alice.get("/tokens")
    etag = first.headers["ETag"]
    again = alice.get("/tokens", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag


def test_etag_match_in_a_list_or_weak_is_304(alice):
    etag = alice.get("/tokens").headers["ETag"]
    for header in (f'"other", {etag}', f"W/{etag}", "*"):
        assert alice.get("/tokens", headers={"If-None-Match": header}).status_code == 304


class TokensLocked:
    """Holds a lock that stops every read and write of the tokens table, as a busy database would."""

    def __init__(self, tokend):
        self.tokend = tokend

    def __enter__(self):
        if self.tokend.db_url:
            self.session = self.tokend.postgres.session(self.tokend.db_url)
            self.session.stdin.write("BEGIN; LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE;\n")
            self.session.stdin.flush()
            deadline = time.monotonic() + 10
            while not self.tokend.postgres.sql(self.tokend.db_url,
                                               "SELECT 1 FROM pg_locks WHERE mode = 'AccessExclusiveLock'"
                                               " AND relation = 'tokens'::regclass"):
                assert time.monotonic() < deadline, "psql did not take the lock"
                time.sleep(0.05)
        else:
            self.database = sqlite3.connect(self.tokend.data_dir / "tokens.db", isolation_level=None)
            self.database.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exception):
        if self.tokend.db_url:
            self.session.stdin.write("ROLLBACK;\n")
            self.session.stdin.close()
            self.session.wait(timeout=10)
        else:
            self.database.execute("ROLLBACK")
            self.database.close()


def test_304_and_unchanged_listing_are_answered_without_the_database(tokend, alice):
    made = alice.create(60)["id"]
    # The service's watcher of other writers sees this write too, up to
    # 200 ms later, and drops what it remembered once more.
    time.sleep(0.5)
    etag = alice.get("/tokens").headers["ETag"]
    with TokensLocked(tokend):
        # Stuck behind the lock, this request holds the service's database
        # connection (and one of its few threads, so the probe comes last).
        writer = threading.Thread(target=lambda: Client(tokend, alice.token).post("/tokens"))
        writer.start()
        time.sleep(0.3)
        reader = Client(tokend, alice.token)
        assert reader.get("/tokens", headers={"If-None-Match": etag}, timeout=0.5).status_code == 304
        assert reader.get("/tokens", timeout=0.5).headers["ETag"] == etag
        with pytest.raises(requests.Timeout):
            alice.get(f"/token/{made}", timeout=0.5)
    writer.join()


def test_etag_mismatch_is_200(alice):
    response = alice.get("/tokens", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200
    assert response.json()["tokens"]


def test_etag_changes_when_a_token_is_made(alice):
    etag = alice.get("/tokens").headers["ETag"]
    made = alice.create(60)["id"]
    response = alice.get("/tokens", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert made in {token["id"] for token in response.json()["tokens"]}


def test_etag_changes_when_a_token_is_revoked(alice):
    made = alice.create(60)["id"]
    etag = alice.get("/tokens").headers["ETag"]
    alice.post(f"/revoke/{made}")
    assert alice.get("/tokens", headers={"If-None-Match": etag}).status_code == 200


def test_etag_changes_when_a_token_expires(alice):
    made = alice.create(2)
    listed = alice.get("/tokens")
    assert made["id"] in {token["id"] for token in listed.json()["tokens"]}
    sleep_until_expired(made["expires"])
    response = alice.get("/tokens", headers={"If-None-Match": listed.headers["ETag"]})
    assert response.status_code == 200
    assert made["id"] not in {token["id"] for token in response.json()["tokens"]}


def test_etag_changes_when_another_process_adds_a_token(tokend, alice):
    etag = alice.get("/tokens").headers["ETag"]
    assert alice.get("/tokens", headers={"If-None-Match": etag}).status_code == 304
    added = token_id(tokend.add_user("alice"))
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        response = alice.get("/tokens", headers={"If-None-Match": etag})
        if response.status_code == 200:
            break
        time.sleep(0.05)
    assert response.status_code == 200
    assert added in {token["id"] for token in response.json()["tokens"]}


def test_list_shows_a_token_another_process_added_within_a_second(tokend, alice):
    before = alice.listed_ids()
    added = token_id(tokend.add_user("alice"))
    deadline = time.monotonic() + 1
    while added not in alice.listed_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alice.listed_ids() == before | {added}


def test_etag_with_token_differs_from_plain_listing(alice):
    plain = alice.get("/tokens").headers["ETag"]
    with_token = alice.get("/tokens?with_token=1").headers["ETag"]
    assert plain != with_token
    assert alice.get("/tokens?with_token=1", headers={"If-None-Match": plain}).status_code == 200


def test_every_authenticated_response_carries_rate_limit_headers(alice):
    made = alice.create(60)["id"]
    etag = alice.get("/tokens").headers["ETag"]
    responses = [
        alice.get("/tokens"),
        alice.get("/tokens", headers={"If-None-Match": etag}),
        alice.post("/tokens", json={"duration": 0}),
        alice.get(f"/token/{made}"),
        alice.get("/token/" + "0" * 64),
        alice.post(f"/revoke/{made}"),
    ]
    remaining = [int(response.headers["X-RateLimit-Remaining"]) for response in responses]
    assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == len(remaining)
    for response in responses:
        assert response.headers["X-RateLimit-Limit"] == "3600"
        reset = int(response.headers["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 3600


def test_rate_limit_exhausted_is_403_with_remaining_0(tokend_factory):
    tokend = tokend_factory("--rate-limit", "5")
    client = Client(tokend, tokend.add_user("alice"))
    remaining = [int(client.get("/tokens").headers["X-RateLimit-Remaining"]) for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    response = client.get("/tokens")
    assert assert_error(response, 403) == "rate limit exceeded"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Limit"] == "5"


def test_rate_limit_is_per_user_across_a_chain_of_tokens(tokend_factory):
    tokend = tokend_factory("--rate-limit", "4")
    first = Client(tokend, tokend.add_user("alice"))
    bob = Client(tokend, tokend.add_user("bob"))
    first.get("/tokens")
    second = Client(tokend, first.create(3600)["token"])
    third = Client(tokend, second.create(3600)["token"])
    assert third.get("/tokens").headers["X-RateLimit-Remaining"] == "0"
    for client in (first, second, third, Client(tokend, tokend.add_user("alice"))):
        response = client.get("/tokens")
        assert assert_error(response, 403) == "rate limit exceeded"
        assert response.headers["X-RateLimit-Remaining"] == "0"
    assert bob.get("/tokens").status_code == 200


def bad_bearer(tokend, source="127.0.0.1"):
    """GET /tokens with a well-formed but forged token, from the source address."""
    connection = http.client.HTTPConnection(*tokend.url.removeprefix("http://").rsplit(":", 1),
                                            timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", "/tokens", headers={"Authorization": "Bearer eyJ.eyJ.c2ln"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def test_failed_authentication_is_limited_per_client_address(tokend_factory):
    tokend = tokend_factory("--auth-failure-limit", "5")
    known = Client(tokend, tokend.add_user("alice"))
    assert known.get("/tokens").status_code == 200
    fresh = tokend.add_user("alice")
    for _ in range(5):
        status, headers, _ = bad_bearer(tokend)
        assert status == 401 and "X-RateLimit-Remaining" not in headers
    status, headers, body = bad_bearer(tokend)
    assert status == 403
    assert body["error_message"] == "too many failed authentications from this address"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Limit"] == "5"
    assert time.time() < int(headers["X-RateLimit-Reset"]) <= time.time() + 3600
    # A token not verified yet is not verified from there now; one verified before still works.
    assert_error(Client(tokend, fresh).get("/tokens"), 403)
    assert known.get("/tokens").status_code == 200
    assert bad_bearer(tokend, source="127.0.0.2")[0] == 401


def test_a_flood_of_bad_tokens_is_limited_by_default(tokend):
    statuses = [bad_bearer(tokend)[0] for _ in range(150)]
    assert statuses[:100] == [401] * 100
    assert statuses[100:] == [403] * 50


def test_expired_and_revoked_tokens_are_pruned_from_the_database(tokend):
    alice = Client(tokend, tokend.add_user("alice"))
    made = {name: alice.post("/tokens", json={"duration": 3600}, headers=headers).json()["id"]
            for name, headers in [("active", {}), ("revoked-long-ago", {}), ("expired-long-ago", {}),
                                  ("revoked-lately", {}), ("named-by-a-recent-key", {"Idempotency-Key": "new"}),
                                  ("named-by-an-old-key", {"Idempotency-Key": "old"})]}
    for name in ("revoked-long-ago", "revoked-lately", "named-by-a-recent-key", "named-by-an-old-key"):
        assert alice.post(f"/revoke/{made[name]}").status_code == 200
    tokend.stop()
    two_days_ago = int(time.time()) - 2 * DAY
    for name in ("revoked-long-ago", "named-by-a-recent-key", "named-by-an-old-key"):
        tokend.sql(f"UPDATE tokens SET revoked = {two_days_ago} WHERE id = '{made[name]}'")
    tokend.sql(f"UPDATE tokens SET created = {two_days_ago - 60}, expires = {two_days_ago}"
               f" WHERE id = '{made['expired-long-ago']}'")
    tokend.sql(f"UPDATE idempotency_keys SET created = {two_days_ago} WHERE key = 'old'")
    tokend.start()
    ids = {row[0] for row in tokend.sql("SELECT id FROM tokens")}
    keys = {row[0] for row in tokend.sql("SELECT key FROM idempotency_keys")}
    assert ids == {token_id(alice.token), made["active"], made["revoked-lately"],
                   made["named-by-a-recent-key"]}
    assert keys == {"new"}
    # What the replay of the recent key needs is still there.
    replay = Client(tokend, alice.token).post("/tokens", json={"duration": 3600},
                                              headers={"Idempotency-Key": "new"})
    assert_error(replay, 409)
