"""Issue 4: what the driver already knows costs no request, and the kernel's caches carry repeats."""

import os
import subprocess

from fsutil import settled_requests


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
