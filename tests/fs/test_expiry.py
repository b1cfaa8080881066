"""rerobotsfs(1), THE TREE and Open views: tokens that go without a local rmdir leave the tree by themselves."""

import os
import time

import pytest

from fsutil import Api, log_mark, settled_requests, token_id, traffic_since, wait_until


def expiry_of(mount, token):
    with open(mount.path / token / "expires") as expires:
        return time.mktime(time.strptime(expires.read(), "%Y-%m-%dT%H:%M:%SZ\n")) - time.timezone


def test_a_token_revoked_elsewhere_disappears_within_list_ttl(mount_factory, tokend):
    mount = mount_factory(list_ttl=2)
    other = tokend.add_user("alice")
    assert wait_until(lambda: token_id(other) in os.listdir(mount.path), 3)
    os.stat(mount.path / token_id(other) / "jwt.txt")

    assert Api(tokend.url, mount.token).call("POST", "/revoke/" + token_id(other))[0] == 200
    revoked = time.monotonic()
    assert wait_until(lambda: token_id(other) not in os.listdir(mount.path), 3)
    # The kernel is told a moment later, by the driver's notification thread.
    assert wait_until(lambda: not os.path.exists(mount.path / token_id(other)), 1)
    assert time.monotonic() - revoked <= 2 + 1


def test_an_expired_token_vanishes_within_a_second(mount_factory, tokend):
    # A long list_ttl: only the driver's notification can make the kernel forget this soon.
    mark = log_mark(tokend)
    mount = mount_factory(list_ttl=30)
    os.mkdir(mount.path / "2s")
    (token,) = set(os.listdir(mount.path)) - {mount.id}
    os.stat(mount.path / token / "jwt.txt")
    expires = expiry_of(mount, token)
    requests = len(settled_requests(tokend))

    time.sleep(max(0, expires + 1.0 - time.time()))
    assert token not in os.listdir(mount.path)
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / token)
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / token / "jwt.txt")
    # Expiry needs no request: the driver knows when each token expires.
    assert len(settled_requests(tokend)) == requests
    assert traffic_since(tokend, mark)[1] == 1


def test_an_expired_token_vanishes_from_an_open_directory(mount_factory):
    mount = mount_factory(list_ttl=30)
    view = os.open(mount.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.mkdir(mount.path / "2s")
        (token,) = set(os.listdir(view)) - {mount.id}
        expires = expiry_of(mount, token)
        time.sleep(max(0, expires + 1.0 - time.time()))
        # listdir on a descriptor rewinds it: the refresh of an open view.
        assert os.listdir(view) == [mount.id]
        assert [entry.name for entry in os.scandir(mount.path)] == [mount.id]
    finally:
        os.close(view)


def test_an_expired_token_vanishes_while_its_file_is_open(mount_factory):
    mount = mount_factory(list_ttl=30)
    os.mkdir(mount.path / "2s")
    (token,) = set(os.listdir(mount.path)) - {mount.id}
    expires = expiry_of(mount, token)
    # The kernel will not drop a directory with an open file: the driver must not ask it to
    # (libfuse would print the refusal), and invalidates the name instead.
    with open(mount.path / token / "jwt.txt"):
        time.sleep(max(0, expires + 1.0 - time.time()))
        assert os.listdir(mount.path) == [mount.id]
        assert not os.path.exists(mount.path / token)
