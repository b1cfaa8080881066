"""Fixtures for the filesystem suite: rerobotsfs really mounted over a real rerobots-tokend.

    def test_something(mount):
        os.mkdir(mount.path / "24h")
        assert len(os.listdir(mount.path)) == 2

As sshfs's tests do, the driver runs in the foreground (-f) in the
background, the fixture waits with a deadline until the mount shows in
/proc/self/mountinfo while checking that the driver is alive, and teardown
always unmounts with `fusermount3 -u`, then fails the test unless the driver
exited 0 and printed nothing but the lines the test said to expect
(Mount.expect).
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from faultproxy import FaultProxy
from fsutil import LIST_TTL, MOUNT_TIMEOUT, NOBODY, Api, Mount, write_token_file
from mountutil import is_mounted


@pytest.fixture(scope="session")
def driver(build_dir):
    binary = build_dir / "rerobotsfs"
    if not binary.is_file():
        pytest.skip(f"{binary} is missing: run `meson compile -C {build_dir}` first")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")
    return binary


@pytest.fixture
def run_driver(driver, tmp_path):
    """run(*args, env=None) runs rerobotsfs -f to its end (for the ways it must refuse to mount).

    Returns the CompletedProcess; the test fails if anything got mounted.
    """
    mountpoint = tmp_path / "refused"
    mountpoint.mkdir()

    def run(*args, env=None):
        command = [str(driver), "-f", *args, str(mountpoint)]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=MOUNT_TIMEOUT, env=env
            )
        finally:
            if is_mounted(mountpoint):
                subprocess.run(["fusermount3", "-u", str(mountpoint)])
                raise AssertionError("rerobotsfs mounted where it had to refuse")
        return result

    return run


@pytest.fixture
def mount_factory(driver, tokend, tmp_path):
    """make(list_ttl=2, options=(), token=None, env=None, flags=(), ...) mounts rerobotsfs.

    token defaults to a new token of user alice, written to a 0600 file given
    with -o token_file. With token_file=False the token and with origin=False
    the origin must come from env.
    With as_nobody the driver runs with the real user id of nobody (so the
    tree belongs to nobody and only nobody may enter it) on a mount point
    that nobody can reach; with reachable, the mount point is one that every
    user can reach (the tree's own modes then decide). Every mount is
    unmounted at teardown.
    """
    mounts = []
    scratch = []

    def make(list_ttl=LIST_TTL, options=(), token=None, env=None, as_nobody=False,
             token_file=True, origin=True, flags=(), reachable=False):
        index = len(mounts)
        if token is None:
            token = tokend.add_user("alice")
        if as_nobody or reachable:
            parent = Path(tempfile.mkdtemp(prefix="rerobotsfs-"))
            scratch.append(parent)
            parent.chmod(0o755)
            mountpoint = parent / "mnt"
            mountpoint.mkdir()
            if as_nobody:
                os.chown(mountpoint, NOBODY, NOBODY)
        else:
            mountpoint = tmp_path / f"mnt-{index}"
            mountpoint.mkdir()
        all_options = [f"list_ttl={list_ttl}", *options]
        if origin:
            all_options.append(f"origin={tokend.url}")
        path = None
        if token_file:
            path = write_token_file(tmp_path / f"jwt-{index}.txt", token)
            all_options.append(f"token_file={path}")
        command = [str(driver), "-f", *flags, "-o", ",".join(all_options), str(mountpoint)]
        if as_nobody:
            command = ["setpriv", f"--ruid={NOBODY}", f"--rgid={NOBODY}", "--clear-groups",
                       *command]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
        )
        mount = Mount(mountpoint, token, process)
        mount.token_file = path
        # A token of a day, as add_user makes by default, is a day from expiry at once.
        mount.expect(r"^rerobotsfs: the mount's token [0-9a-f]+\.\.\. expires within a day, ")
        mounts.append(mount)
        mount.wait_mounted()
        return mount

    yield make
    failures = []
    for mount in mounts:
        try:
            mount.unmount()
        except AssertionError as error:
            failures.append(str(error))
    for parent in scratch:
        shutil.rmtree(parent, ignore_errors=True)
    assert not failures, "\n".join(failures)


@pytest.fixture
def mount(mount_factory):
    """rerobotsfs mounted with list_ttl=2 and a token of user alice in a 0600 token file."""
    return mount_factory()


@pytest.fixture
def api(tokend, mount):
    """The service's API, called directly with the mount's token."""
    return Api(tokend.url, mount.token)


@pytest.fixture
def proxy(tokend):
    """A fault-injecting proxy to the service (tests/faultproxy.py). A test that asks for it
    before mount_factory keeps it until its mounts are gone."""
    proxy = FaultProxy(tokend.url)
    yield proxy
    proxy.close()
