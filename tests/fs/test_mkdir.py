"""rerobotsfs(1), Making a token: making a token with mkdir MOUNT/DURATION."""

import errno
import hashlib
import os
import subprocess
import time

import pytest

from fsutil import settled_requests

INVALID_NAMES = [
    "Untitled Folder", "New Folder (2)", "24", "24H", "1m1h", "1h1h", "0h", "0s", "-1h",
    "+1h", "1.5h", "h", "1h ", " 1h", "1h30", "1y", "99999999999999999999s",
    "9999999999999999w", "1H30M", "１h", "24h\nrerobotsfs: forged line",
]


def new_tokens(mount, before):
    return set(os.listdir(mount.path)) - before


def test_invalid_names_fail_einval_without_a_request(mount, tokend):
    mount.expect(r'^rerobotsfs: mkdir ".*": not a duration \(e\.g\. 24h, 1h30m, 7d\)$')
    before = set(os.listdir(mount.path))
    for name in INVALID_NAMES:
        with pytest.raises(OSError) as failure:
            os.mkdir(mount.path / name)
        assert failure.value.errno == errno.EINVAL, name
    assert settled_requests(tokend, "POST") == []
    assert set(os.listdir(mount.path)) == before


def test_mkdir_makes_exactly_one_token_listed_at_once(mount, tokend, api):
    before = set(os.listdir(mount.path))
    os.mkdir(mount.path / "24h")
    (new,) = new_tokens(mount, before)
    assert len(settled_requests(tokend, "POST", "/tokens")) == 1
    status, body = api.call("GET", "/token/" + new)
    assert status == 200 and body["expires"] - body["created"] == 86400


def test_the_duration_name_is_not_listed(mount):
    os.mkdir(mount.path / "7d")
    assert "7d" not in os.listdir(mount.path)


def test_ls_t_shows_the_newest_token_first(mount):
    # Times are whole seconds: make the new token a second younger than the mount's.
    time.sleep(1.1)
    os.mkdir(mount.path / "2w")
    newest = subprocess.run(f"ls -t {mount.path} | head -n 1", shell=True, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert newest != mount.id
    assert (mount.path / newest / "expires").exists()
    assert len(os.listdir(mount.path)) == 2


def test_mkdir_then_cat_through_the_duration_name(mount):
    result = subprocess.run(f"mkdir {mount.path}/24h && cat {mount.path}/24h/jwt.txt",
                            shell=True, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.endswith("\n") and text.count("\n") == 1
    assert hashlib.sha256(text[:-1].encode()).hexdigest() in os.listdir(mount.path)


def test_the_same_duration_again_makes_another_token(mount, tokend):
    before = set(os.listdir(mount.path))
    os.mkdir(mount.path / "1h")
    # By now the first 1h has been renamed to its token's id (at once: see test_open_views).
    time.sleep(1.5)
    os.mkdir(mount.path / "1h")
    assert len(new_tokens(mount, before)) == 2
    assert len(settled_requests(tokend, "POST", "/tokens")) == 2


def test_a_duration_the_server_refuses_is_einval(mount, tokend):
    mount.expect(r"mkdir.*POST /tokens.*400")
    with pytest.raises(OSError) as failure:
        os.mkdir(mount.path / "400d")
    assert failure.value.errno == errno.EINVAL
    assert len(os.listdir(mount.path)) == 1


def test_mkdir_inside_a_token_directory_is_refused(mount, tokend):
    with pytest.raises(OSError) as failure:
        os.mkdir(mount.path / mount.id / "24h")
    assert failure.value.errno in (errno.EPERM, errno.EACCES, errno.EROFS)
    assert settled_requests(tokend, "POST") == []
