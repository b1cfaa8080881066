"""What the driver already knows costs no request, and the kernel's caches carry repeats."""

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from fsutil import log_mark, make_tokens, settled_requests, token_id, traffic_since


def test_rereading_every_token_makes_no_request(mount_factory, tokend):
    mount = mount_factory(list_ttl=30)
    for _ in range(5):
        os.mkdir(mount.path / "24h")
    tokens = os.listdir(mount.path)
    texts = {token: (mount.path / token / "jwt.txt").read_text() for token in tokens}
    before = len(settled_requests(tokend))
    for _ in range(3):
        for token in tokens:
            assert (mount.path / token / "jwt.txt").read_text() == texts[token]
            os.stat(mount.path / token / "expires")
    assert len(settled_requests(tokend)) == before


# A user with this many tokens, made once for the tests that need many.
MANY = 1000


@pytest.fixture(scope="class")
def crowd(class_tokend):
    """A service whose user crowd has MANY active tokens; returns (service, crowd's token)."""
    token = class_tokend.add_user("crowd")
    make_tokens(class_tokend.url, token, MANY - 1)
    return class_tokend, token


class TestManyTokens:
    """Counted from the mount's start: its one check request is part of the price."""

    @pytest.fixture
    def tokend(self, crowd):
        return crowd[0]

    @pytest.fixture
    def cold(self, crowd, mount_factory):
        """A new mount of crowd's token, and the log mark from before it started."""
        service, token = crowd
        mark = log_mark(service)
        return mount_factory(list_ttl=30, token=token), mark

    def test_a_cold_ls_l_is_one_request_on_one_connection(self, cold, tokend):
        mount, mark = cold
        listing = subprocess.run(["ls", "-l", str(mount.path)], capture_output=True,
                                 text=True, check=True).stdout
        assert len(listing.splitlines()) == 1 + MANY
        requests_made, connections = traffic_since(tokend, mark)
        assert len(requests_made) == 1
        assert connections == 1

    def test_a_second_ls_l_of_many_makes_no_request(self, cold, tokend):
        mount, mark = cold
        first = subprocess.run(["ls", "-l", str(mount.path)], capture_output=True, text=True,
                               check=True).stdout
        before = len(settled_requests(tokend))
        second = subprocess.run(["ls", "-l", str(mount.path)], capture_output=True, text=True,
                                check=True).stdout
        assert second == first
        assert len(settled_requests(tokend)) == before
        assert traffic_since(tokend, mark)[1] == 1

    def test_a_cold_cat_of_every_token_is_at_most_two_requests(self, cold, tokend):
        mount, mark = cold
        texts = subprocess.run(f"cat {mount.path}/*/jwt.txt", shell=True, capture_output=True,
                               text=True, check=True).stdout.splitlines()
        assert len(texts) == MANY
        requests_made, connections = traffic_since(tokend, mark)
        assert len(requests_made) <= 2
        assert connections == 1
        assert {token_id(text) for text in texts} == set(os.listdir(mount.path))


def test_parallel_cold_readers_of_one_token_make_one_request(mount_factory, tokend):
    mount = mount_factory(list_ttl=30)
    os.mkdir(mount.path / "24h")
    (new,) = set(os.listdir(mount.path)) - {mount.id}
    # A second mount knows the new token from nothing but its listing.
    mark = log_mark(tokend)
    cold = mount_factory(list_ttl=30, token=mount.token)
    path = cold.path / new / "jwt.txt"
    os.listdir(cold.path)
    before = len(settled_requests(tokend))
    with ThreadPoolExecutor(max_workers=100) as pool:
        texts = set(pool.map(lambda _: path.read_text(), range(100)))
    assert len(texts) == 1
    assert len(settled_requests(tokend)) - before == 1
    assert traffic_since(tokend, mark)[1] == 1
