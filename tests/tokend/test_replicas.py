"""Replicas: several rerobots-tokend processes on one PostgreSQL database act as one service.

No sticky sessions: each step of a test goes to whichever replica it names,
and the next request after a change, to any replica, sees it.
"""

import concurrent.futures
import threading
import time

import pytest
import requests

from tokend_client import Client, assert_error, token_id


@pytest.fixture
def tokend_backend():
    return "postgresql"


@pytest.fixture
def replicas(tokend_factory):
    first = tokend_factory()
    return first, tokend_factory(db_url=first.db_url)


def ids(response):
    assert response.status_code == 200, response.text
    return [token["id"] for token in response.json()["tokens"]]


def test_a_token_made_through_one_replica_is_listed_read_and_revoked_through_another(replicas):
    one, two = replicas
    token = one.add_user("alice")
    made = Client(one, token).create(3600)
    through_two = Client(two, token)
    assert made["id"] in ids(through_two.get("/tokens"))
    assert through_two.get(f"/token/{made['id']}").json()["token"] == made["token"]
    assert through_two.post(f"/revoke/{made['id']}").status_code == 200
    assert made["id"] not in ids(Client(one, token).get("/tokens"))
    assert_error(Client(one, made["token"]).get("/tokens"), 401)


def test_listings_carry_the_same_etag_on_every_replica(replicas):
    one, two = replicas
    token = one.add_user("alice")
    first = Client(one, token).get("/tokens").headers["ETag"]
    assert Client(two, token).get("/tokens").headers["ETag"] == first
    Client(one, token).create(3600)
    changed = Client(two, token).get("/tokens", headers={"If-None-Match": first})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first
    assert Client(one, token).get("/tokens").headers["ETag"] == changed.headers["ETag"]
    for replica in replicas:
        unchanged = Client(replica, token).get("/tokens", headers={"If-None-Match": changed.headers["ETag"]})
        assert unchanged.status_code == 304
    with_token = [Client(replica, token).get("/tokens", params={"with_token": 1}).headers["ETag"]
                  for replica in replicas]
    assert with_token[0] == with_token[1]


def test_a_revoke_through_one_replica_is_seen_by_the_next_request_to_another(replicas):
    one, two = replicas
    token = one.add_user("alice")
    made = Client(one, token).create(3600)
    # Replica two remembers the token as verified and the listing with its ETag.
    assert Client(two, made["token"]).get("/tokens").status_code == 200
    etag = Client(two, token).get("/tokens").headers["ETag"]
    assert Client(one, token).post(f"/revoke/{made['id']}").status_code == 200
    assert_error(Client(two, made["token"]).get("/tokens"), 401)
    after = Client(two, token).get("/tokens", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert made["id"] not in ids(after)


def test_a_purge_through_one_replica_locks_out_every_token_on_another(replicas):
    one, two = replicas
    token = one.add_user("alice")
    made = Client(one, token).create(3600)
    assert Client(two, made["token"]).get("/tokens").status_code == 200
    assert Client(one, made["token"]).post("/purge").status_code == 200
    assert_error(Client(two, made["token"]).get("/tokens"), 401)
    assert_error(Client(two, token).get("/tokens"), 401)


def test_a_retried_create_sent_to_another_replica_returns_the_same_token(replicas):
    one, two = replicas
    token = one.add_user("alice")
    headers = {"Idempotency-Key": "retry-elsewhere"}
    first = Client(one, token).post("/tokens", json={"duration": 600}, headers=headers)
    assert first.status_code == 201
    again = Client(two, token).post("/tokens", json={"duration": 600}, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()


def test_racing_creates_with_one_idempotency_key_on_two_replicas_make_one_token(replicas):
    one, two = replicas
    token = one.add_user("alice")
    before = ids(Client(one, token).get("/tokens"))
    barrier = threading.Barrier(8)

    def create(replica):
        client = Client(replica, token)
        barrier.wait()
        return client.post("/tokens", json={"duration": 600}, headers={"Idempotency-Key": "race"})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, [one, two] * 4))
    assert sorted(answer.status_code for answer in answers) == [200] * 7 + [201]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len(ids(Client(two, token).get("/tokens"))) == len(before) + 1


def test_the_rate_limit_holds_across_replicas(tokend_factory):
    # Tolerance: none. Each request adds one to a single row in one statement, whichever
    # replica takes it, so the limit is exact across replicas.
    one = tokend_factory("--rate-limit", "20")
    two = tokend_factory("--rate-limit", "20", db_url=one.db_url)
    token = one.add_user("alice")
    statuses = [Client(replica, token).get("/tokens").status_code for replica in [one, two] * 15]
    assert statuses == [200] * 20 + [403] * 10
    last = Client(two, token).get("/tokens")
    assert last.headers["X-RateLimit-Remaining"] == "0"


def test_add_user_works_while_replicas_run(replicas):
    one, two = replicas
    token = two.add_user("carol")
    for replica in replicas:
        assert Client(replica, token).get("/tokens").status_code == 200
        assert token_id(token) in ids(Client(replica, token).get("/tokens"))


def test_replicas_starting_at_once_make_one_schema_and_one_signing_key(tokend_factory, postgres_server):
    url = postgres_server.create_database()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        started = list(pool.map(lambda _: tokend_factory(db_url=url), range(3)))
    assert postgres_server.sql(url, "SELECT count(*) FROM signing_key") == [["1"]]
    assert postgres_server.sql(url, "SELECT version FROM tokend_schema") == [["1"]]
    token = started[0].add_user("alice")
    made = Client(started[1], token).create(600)
    assert Client(started[2], made["token"]).get(f"/token/{made['id']}").status_code == 200


def test_a_replica_killed_during_a_burst_of_creates_loses_no_acknowledged_token(replicas):
    one, two = replicas
    token = one.add_user("alice")
    acknowledged = []
    stop = threading.Event()

    def create():
        session = requests.Session()
        while not stop.is_set():
            try:
                answer = session.post(one.url + "/tokens", json={"duration": 600},
                                      headers={"Authorization": "Bearer " + token}, timeout=5)
            except requests.RequestException:
                return
            if answer.status_code == 201:
                acknowledged.append(answer.json()["id"])

    workers = [threading.Thread(target=create) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(1)
    one.kill()
    stop.set()
    for worker in workers:
        worker.join()
    assert len(acknowledged) > 10
    listed = set(ids(Client(two, token).get("/tokens")))
    assert set(acknowledged) <= listed


def test_a_database_restart_under_load_answers_503_then_recovers(replicas, postgres_server):
    one, two = replicas
    token = one.add_user("alice")
    answers = []
    stop = threading.Event()

    def load(replica):
        session = requests.Session()
        while not stop.is_set():
            answer = session.post(replica.url + "/tokens", json={"duration": 600},
                                  headers={"Authorization": "Bearer " + token}, timeout=30)
            answers.append(answer)

    workers = [threading.Thread(target=load, args=(replica,)) for replica in replicas for _ in range(2)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    postgres_server.stop()
    time.sleep(1)
    postgres_server.restart()
    time.sleep(0.5)
    stop.set()
    for worker in workers:
        worker.join()
    statuses = {answer.status_code for answer in answers}
    assert statuses <= {201, 503}, statuses
    assert 503 in statuses
    for answer in answers:
        if answer.status_code == 503:
            assert answer.json()["error_message"]
    # Without a restart of either replica, each serves again, from the same database.
    for replica in replicas:
        deadline = time.monotonic() + 10
        while (status := Client(replica, token).post("/tokens").status_code) == 503:
            assert time.monotonic() < deadline, "the replica did not reconnect"
            time.sleep(0.1)
        assert status == 201
        assert replica.running
    created = [answer.json()["id"] for answer in answers if answer.status_code == 201]
    assert set(created) <= set(ids(Client(two, token).get("/tokens")))
