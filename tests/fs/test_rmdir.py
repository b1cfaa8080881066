"""rerobotsfs(1), Revoking a token: revoking with rmdir MOUNT/ID, rm -r and its confirmation step."""

import errno
import os
import subprocess

import pytest

from fsutil import run_as_nobody, settled_requests, wait_until


def make_token(mount):
    before = set(os.listdir(mount.path))
    os.mkdir(mount.path / "24h")
    (new,) = set(os.listdir(mount.path)) - before
    return new


def assert_revoked(mount, tokend, api, token):
    assert wait_until(lambda: tokend.requests("POST", "/revoke/" + token), 2)
    assert token not in os.listdir(mount.path)
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / token / "jwt.txt")
    assert api.call("GET", "/token/" + token)[0] == 404


def test_rmdir_revokes(mount, tokend, api):
    token = make_token(mount)
    os.stat(mount.path / token / "jwt.txt")
    os.rmdir(mount.path / token)
    assert_revoked(mount, tokend, api, token)


def test_rm_r_revokes_and_exits_0(mount, tokend, api):
    token = make_token(mount)
    result = subprocess.run(["rm", "-r", str(mount.path / token)], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert_revoked(mount, tokend, api, token)


def test_rm_rf_revokes_and_exits_0(mount, tokend, api):
    token = make_token(mount)
    result = subprocess.run(["rm", "-rf", str(mount.path / token)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert_revoked(mount, tokend, api, token)


def rm_r_in_a_terminal(path, answers):
    """rm -r PATH run by nobody on a pseudo-terminal (script(1)), answering its prompts."""
    return run_as_nobody(
        ["script", "-qec", f"rm -r {path}", "/dev/null"],
        input="".join(answer + "\n" for answer in answers),
        capture_output=True,
        text=True,
        timeout=30,
    )


def nobody_lists(mount):
    result = run_as_nobody(["ls", str(mount.path)], capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_rm_r_in_a_terminal_asks_and_no_keeps_the_token(mount_factory, tokend):
    # rm never asks root (root may write anything), so the mount and rm are nobody's.
    mount = mount_factory(as_nobody=True)
    assert run_as_nobody(["mkdir", str(mount.path / "24h")]).returncode == 0
    (token,) = set(nobody_lists(mount)) - {mount.id}

    declined = rm_r_in_a_terminal(mount.path / token, ["n", "n", "n"])
    assert "remove write-protected regular file" in declined.stdout
    assert "jwt.txt" in declined.stdout
    assert declined.returncode != 0
    assert token in nobody_lists(mount)
    assert not settled_requests(tokend, "POST", "/revoke/")

    accepted = rm_r_in_a_terminal(mount.path / token, ["y", "y", "y"])
    assert accepted.returncode == 0, accepted.stdout
    assert token not in nobody_lists(mount)
    assert wait_until(lambda: tokend.requests("POST", "/revoke/" + token), 2)


def test_rmdir_of_the_mounts_own_token_is_ebusy(mount, tokend):
    with pytest.raises(OSError) as failure:
        os.rmdir(mount.path / mount.id)
    assert failure.value.errno == errno.EBUSY
    assert not settled_requests(tokend, "POST", "/revoke/")
    assert mount.id in os.listdir(mount.path)


def test_rmdir_of_an_unknown_id_is_enoent(mount):
    with pytest.raises(FileNotFoundError):
        os.rmdir(mount.path / ("ab" * 32))


def test_unlinking_a_single_file_revokes_nothing(mount, tokend):
    token = make_token(mount)
    for name in ["jwt.txt", "created", "expires"]:
        os.unlink(mount.path / token / name)
    assert token in os.listdir(mount.path)
    assert (mount.path / token / "jwt.txt").read_text().count(".") == 2
    assert not settled_requests(tokend, "POST", "/revoke/")
