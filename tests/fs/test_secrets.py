"""rerobotsfs(1), SECURITY and THE MOUNT'S TOKEN: the tokens reach no one but the mount's owner.

No token text in a log line, an error message, a command line or an
environment; the driver is not dumpable, so no core dump or ptrace shows its
memory; the tree is the owner's alone unless allow_other, and then the
kernel enforces its modes.
"""

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from faultproxy import FaultProxy
from fsutil import NOBODY, mount_entry, run_as_nobody, wait_until, write_token_file

TIMEOUT = 2


def expect_errno(number, call):
    with pytest.raises(OSError) as failure:
        call()
    assert failure.value.errno == number


def read_proc(pid, name):
    with open(f"/proc/{pid}/{name}", "rb") as file:
        return file.read()


@pytest.fixture
def nobody_dir():
    """A directory that nobody can reach (tmp_path's parents are root's alone)."""
    parent = Path(tempfile.mkdtemp(prefix="rerobotsfs-"))
    parent.chmod(0o755)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def test_a_full_session_shows_no_token_anywhere(mount_factory, tokend):
    proxy = FaultProxy(tokend.url)
    token = tokend.add_user("alice")
    env = dict(os.environ, REROBOTS_API_TOKEN=token)
    mount = mount_factory(token=token, env=env, token_file=False, origin=False, list_ttl=1,
                          options=[f"origin={proxy.url}", f"timeout={TIMEOUT}"])
    mount.expect(r"^rerobotsfs: ")
    try:
        os.mkdir(mount.path / "1h")
        os.mkdir(mount.path / "2h")
        subprocess.run(["ls", "-l", str(mount.path)], capture_output=True, check=True)
        texts = set()
        for name in os.listdir(mount.path):
            texts.add((mount.path / name / "jwt.txt").read_text().strip())
            (mount.path / name / "expires").read_text()
        assert token in texts and len(texts) == 3
        made = [name for name in os.listdir(mount.path) if name != mount.id]
        expect_errno(errno.EBUSY, lambda: os.rmdir(mount.path / mount.id))
        expect_errno(errno.EINVAL, lambda: os.mkdir(mount.path / "24"))
        expect_errno(errno.ENOENT, lambda: (mount.path / ("0" * 64) / "jwt.txt").read_text())
        time.sleep(1.1)
        proxy.set_fault("status", method="GET", status=401, message="wrong authorization token")
        assert sorted(os.listdir(mount.path)) == sorted([mount.id, *made])
        proxy.set_fault("status", method="POST", status=500)
        expect_errno(errno.EIO, lambda: os.mkdir(mount.path / "1h"))
        proxy.set_fault("cut", method="POST", path="/revoke/")
        expect_errno(errno.EIO, lambda: os.rmdir(mount.path / made[0]))
        proxy.clear()
        os.rmdir(mount.path / made[1])
        assert os.listdir(mount.path) == [mount.id]
        secrets = [text.encode() for text in texts]
        for name in ("cmdline", "environ"):
            content = read_proc(mount.process.pid, name)
            assert not any(secret in content for secret in secrets), name
    finally:
        proxy.close()
    mount.unmount()
    driver_log = "\n".join(mount.stderr_lines())
    service_log = "\n".join(tokend.log_lines())
    # The session did log: every failure above is a line.
    assert "HTTP 500" in driver_log and "HTTP 401" in driver_log
    assert len(tokend.requests()) > 10
    for text in texts:
        assert text not in driver_log
        assert text not in service_log


def test_the_mount_is_private_without_allow_other(mount):
    options = mount_entry(mount.path)[2].split(",")
    assert "allow_other" not in options
    jwt = mount.path / mount.id / "jwt.txt"
    assert jwt.read_text() == mount.token + "\n"
    for command in (["cat", str(jwt)], ["ls", str(mount.path)], ["stat", str(mount.path)]):
        result = run_as_nobody(command, capture_output=True, text=True)
        assert result.returncode != 0 and "Permission denied" in result.stderr, command
        assert mount.token not in result.stdout


# What another user tries once the owner has warmed every cache of the kernel: the dentries, the
# attributes and the page cache of every file, which it answers without asking the driver.
PEEK = """
import os, sys
root = sys.argv[1]
for attempt in (lambda: os.listdir(root),
                lambda: os.stat(os.path.join(root, sys.argv[2])),
                lambda: os.read(os.open(os.path.join(root, sys.argv[2], "jwt.txt"), os.O_RDONLY), 600),
                lambda: os.read(os.open(os.path.join(root, sys.argv[2], "created"), os.O_RDONLY), 600)):
    try:
        print("read", attempt())
    except PermissionError:
        print("refused")
"""


@pytest.mark.parametrize("option", ["allow_other", "allow_root"])
def test_others_are_kept_out_by_the_modes_after_the_owner_warmed_every_cache(mount_factory,
                                                                            option):
    mount = mount_factory(options=[option], reachable=True)
    jwt = mount.path / mount.id / "jwt.txt"
    assert jwt.stat().st_mode & 0o777 == 0o400
    assert (mount.path / mount.id).stat().st_mode & 0o777 == 0o700
    for entry in os.listdir(mount.path):
        for name in ("jwt.txt", "created", "expires"):
            (mount.path / entry / name).read_bytes()
    result = run_as_nobody([sys.executable, "-c", PEEK, str(mount.path), mount.id],
                           capture_output=True, text=True)
    assert mount.token not in result.stdout, "another user read the token"
    assert result.stdout.split("\n")[:4] == ["refused"] * 4, result.stdout + result.stderr
    assert "default_permissions" in mount_entry(mount.path)[2].split(",")
    # What the owner may do is still possible for the owner.
    assert jwt.read_text() == mount.token + "\n"


AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def start_as_nobody(command):
    return subprocess.Popen([*AS_NOBODY, *command], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            errors="replace")


def environ_readable_by_nobody(pid):
    """Whether another process of the same user can read the environ of process pid.

    It can, unless the process is not dumpable: reading another's environ or
    memory is a ptrace access. (/proc/PID's owner would tell too, but not on
    every kernel.)
    """
    assert f"Uid:\t{NOBODY}\t{NOBODY}" in read_proc(pid, "status").decode()
    result = run_as_nobody(["cat", f"/proc/{pid}/environ"], capture_output=True)
    assert result.returncode == 0 or b"Permission denied" in result.stderr
    return result.returncode == 0


def test_a_program_started_as_nobody_is_dumpable():
    # The control for the two tests below: the same start, without prctl.
    process = start_as_nobody(["sleep", "10"])
    try:
        assert wait_until(lambda: read_proc(process.pid, "cmdline").startswith(b"sleep"), 5)
        assert environ_readable_by_nobody(process.pid)
    finally:
        process.kill()
        process.wait()


def test_the_driver_is_not_dumpable(driver, tokend, nobody_dir):
    # Only root may open /dev/fuse on the machines the tests run on, so the driver runs as
    # nobody only as far as its check before mounting, which the proxy holds up meanwhile.
    proxy = FaultProxy(tokend.url)
    proxy.set_fault("delay", method="GET", seconds=TIMEOUT + 1)
    token_file = write_token_file(nobody_dir / "jwt.txt", tokend.add_user("alice"))
    os.chown(token_file, NOBODY, NOBODY)
    process = start_as_nobody([str(driver), "-f", "-o", f"origin={proxy.url},"
                               f"token_file={token_file},timeout={TIMEOUT}",
                               str(nobody_dir)])
    try:
        assert wait_until(lambda: proxy.count("GET") == 1, TIMEOUT)
        assert not environ_readable_by_nobody(process.pid)
        assert process.wait(timeout=TIMEOUT + 1) != 0
        assert "cannot reach" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        proxy.close()


def test_the_service_is_not_dumpable(build_dir, nobody_dir):
    data = nobody_dir / "data"
    data.mkdir()
    os.chown(data, NOBODY, NOBODY)
    process = start_as_nobody([str(build_dir / "rerobots-tokend"), "--data", str(data),
                               "--listen", "127.0.0.1:0"])
    try:
        assert any("listening on" in line for line in iter(process.stderr.readline, ""))
        assert not environ_readable_by_nobody(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
