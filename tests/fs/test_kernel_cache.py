"""Issue 4: what the driver already knows costs no request, and the kernel's caches carry repeats."""

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

from fsutil import Api, settled_requests, token_id


def test_a_second_ls_l_makes_no_request(mount_factory, tokend):
    mount = mount_factory(list_ttl=30)
    for _ in range(5):
        os.mkdir(mount.path / "24h")
    first = subprocess.run(["ls", "-l", str(mount.path)], capture_output=True, text=True,
                           check=True).stdout
    before = len(settled_requests(tokend))
    second = subprocess.run(["ls", "-l", str(mount.path)], capture_output=True, text=True,
                            check=True).stdout
    assert second == first
    assert len(settled_requests(tokend)) == before


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


def make_tokens(api, count):
    for _ in range(count):
        assert api.call("POST", "/tokens", {"duration": 3600})[0] == 201


def test_a_cold_ls_l_is_one_request(mount_factory, tokend):
    token = tokend.add_user("alice")
    make_tokens(Api(tokend.url, token), 200)
    mount = mount_factory(list_ttl=30, token=token)
    before = len(settled_requests(tokend))
    listing = subprocess.run(["ls", "-l", str(mount.path)], capture_output=True, text=True,
                             check=True).stdout
    assert len(listing.splitlines()) == 1 + 201
    assert len(settled_requests(tokend)) - before <= 1


def test_a_cold_cat_of_every_token_is_at_most_two_requests(mount_factory, tokend):
    token = tokend.add_user("alice")
    make_tokens(Api(tokend.url, token), 200)
    mount = mount_factory(list_ttl=30, token=token)
    before = len(settled_requests(tokend))
    texts = subprocess.run(f"cat {mount.path}/*/jwt.txt", shell=True, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    assert len(texts) == 201
    assert {token_id(text) for text in texts} == set(os.listdir(mount.path))
    assert len(settled_requests(tokend)) - before <= 2


def test_parallel_cold_readers_of_one_token_make_one_request(mount_factory, tokend):
    mount = mount_factory(list_ttl=30)
    os.mkdir(mount.path / "24h")
    (new,) = set(os.listdir(mount.path)) - {mount.id}
    # A second mount knows the new token from nothing but its listing.
    cold = mount_factory(list_ttl=30, token=mount.token)
    path = cold.path / new / "jwt.txt"
    os.listdir(cold.path)
    before = len(settled_requests(tokend))
    with ThreadPoolExecutor(max_workers=100) as pool:
        texts = set(pool.map(lambda _: path.read_text(), range(100)))
    assert len(texts) == 1
    assert len(settled_requests(tokend)) - before == 1
