"""What a hostile server, or a proxy in the way, cannot do to the mount.

The mount reaches rerobots-tokend through tests/faultproxy.py, which mangles
the answer to one route: texts swapped between ids, an endless body, a 404
where the listing should be. The driver takes none of it: a text must hash
to its id (else EIO and a log line), an answer other than a listing is
bounded by what its route can need, and a 404 for the listing is no word on
any token: the root stays as the last listing showed it.
"""

import errno
import json
import os
import time

import pytest

from fsutil import Api, wait_until

TIMEOUT = 2
# Bytes of a driver's peak resident memory that an answer it refuses may cost at most.
REFUSED_ANSWER_COST = 8 * 1024 * 1024


@pytest.fixture
def proxied(proxy, mount_factory, tokend):
    """make(list_ttl) mounts through the proxy, with two more tokens, a and b, and their texts."""

    def make(list_ttl):
        mount = mount_factory(list_ttl=list_ttl, origin=False,
                              options=[f"timeout={TIMEOUT}", f"origin={proxy.url}"])
        mount.expect(r"^rerobotsfs: ")
        mount.api = Api(tokend.url, mount.token)
        mount.texts = {}
        for _ in range(2):
            status, body = mount.api.call("POST", "/tokens", {"duration": 3600})
            assert status == 201
            mount.texts[body["id"]] = body["token"]
        mount.a, mount.b = sorted(mount.texts)
        return mount

    return make


def read_or_errno(path):
    try:
        return path.read_text()
    except OSError as error:
        return error.errno


def peak_memory(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def logged(mount, words):
    return wait_until(lambda: any(words in line for line in mount.stderr_lines()), 2)


def test_texts_swapped_in_a_bulk_listing_are_refused(proxied, proxy):
    mount = proxied(list_ttl=2)
    status, listing = mount.api.call("GET", "/tokens?with_token=1")
    assert status == 200
    for token in listing["tokens"]:
        if token["id"] in (mount.a, mount.b):
            token["token"] = mount.texts[mount.b if token["id"] == mount.a else mount.a]
    proxy.set_fault("body", method="GET", path="/tokens?with_token=1",
                    body=json.dumps(listing).encode())
    assert wait_until(lambda: {mount.a, mount.b} <= set(os.listdir(mount.path)), 3)
    texts = {id: read_or_errno(mount.path / id / "jwt.txt") for id in (mount.a, mount.b)}
    assert proxy.faulted() >= 1, "the driver never asked for the swapped listing"
    # Read one by one instead, each text is its own.
    assert texts == {id: text + "\n" for id, text in mount.texts.items()}
    assert logged(mount, '"id" is not the SHA-256 of "token"')


def test_a_text_that_is_not_its_ids_is_eio(proxied, proxy):
    # With list_ttl=0 no listing is fresh, so a text is read alone, with GET /token/ID.
    mount = proxied(list_ttl=0)
    status, token = mount.api.call("GET", "/token/" + mount.a)
    assert status == 200
    token["token"] = mount.texts[mount.b]
    proxy.set_fault("body", method="GET", path="/token/" + mount.a,
                    body=json.dumps(token).encode())
    assert read_or_errno(mount.path / mount.a / "jwt.txt") == errno.EIO
    assert proxy.faulted() == 1
    assert logged(mount, '"id" is not the SHA-256 of "token"')
    proxy.clear()
    assert read_or_errno(mount.path / mount.a / "jwt.txt") == mount.texts[mount.a] + "\n"


def test_an_endless_answer_for_one_token_costs_little_memory(proxied, proxy):
    mount = proxied(list_ttl=0)
    before = peak_memory(mount.process.pid)
    proxy.set_fault("huge", method="GET", path="/token/" + mount.a)
    assert read_or_errno(mount.path / mount.a / "jwt.txt") == errno.EIO
    assert proxy.faulted() >= 1
    assert peak_memory(mount.process.pid) - before < REFUSED_ANSWER_COST
    assert logged(mount, "response body larger than 64 KiB")


def test_a_404_for_the_listing_leaves_the_root_as_it_was(proxied, proxy):
    mount = proxied(list_ttl=1)
    assert wait_until(lambda: {mount.a, mount.b} <= set(os.listdir(mount.path)), 2)
    listing = sorted(os.listdir(mount.path))
    time.sleep(1.1)
    proxy.set_fault("status", method="GET", path="/tokens", status=404, message="no such route")
    assert sorted(os.listdir(mount.path)) == listing
    assert proxy.faulted() >= 1
    assert logged(mount, "GET /tokens?limit=1000: HTTP 404")
