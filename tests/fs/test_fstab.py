"""fstab and mount(8) (rerobotsfs(1), FILES and EXAMPLES): `mount -t fuse.rerobotsfs` through mount.fuse3.

mount(8) hands a fuse.TYPE mount to /sbin/mount.fuse (Debian's link to
mount.fuse3) with an emptied environment, so the shell that mount.fuse3
starts finds TYPE only in the default PATH. Each test therefore runs in a
mount namespace of its own where /usr/local/sbin holds the build's
rerobotsfs, as an installed one would be; the mount it makes is private to
that namespace. These tests need root, as mount(8) of fstab lines does.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from fsutil import MOUNT_TIMEOUT, Api, token_id, write_token_file
from mountutil import driver_pids

CONTRIB_FSTAB = Path(__file__).resolve().parent.parent.parent / "contrib" / "fstab"

# $1: a directory holding rerobotsfs, $2: the mount point, then the mount command. Once
# mounted: the mount's type and source, a mkdir, the listing, and umount(8).
SCRIPT = """
mount --bind "$1" /usr/local/sbin
mnt=$2
shift 2
"$@" || exit $?
findmnt -n -o FSTYPE,SOURCE "$mnt"
mkdir "$mnt/24h"
ls "$mnt"
umount "$mnt"
"""


def fstab_lines():
    return [line for line in CONTRIB_FSTAB.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.fixture
def run_mount(driver, tmp_path):
    """run(*mount_command) runs mount(8) in a namespace of its own; see SCRIPT.

    Returns (CompletedProcess, mount point); the test fails if the driver
    outlives the umount.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root: mount(8) of fstab lines")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "rerobotsfs").symlink_to(driver)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()

    def run(*command):
        result = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-euc", SCRIPT, "sh",
             str(bindir), str(mountpoint), *map(str, command)],
            capture_output=True, text=True, timeout=2 * MOUNT_TIMEOUT,
        )
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while driver_pids(mountpoint) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert driver_pids(mountpoint) == [], "rerobotsfs outlived umount"
        return result, mountpoint

    return run


def assert_mounted_and_used(result, url, token):
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["fuse.rerobotsfs", url]
    assert len(lines) == 3 and token_id(token) in lines[1:]


@pytest.mark.parametrize("line", fstab_lines())
def test_contrib_fstab_line_mounts_and_umounts(line, tokend_factory, run_mount, tmp_path):
    _, _, fstype, options, dump, passno = line.split()
    tokend = tokend_factory(tls="cafile=" in options)
    token = tokend.add_user("alice")
    token_file = write_token_file(tmp_path / "jwt.txt", token)
    # The same line, pointed at the test's service, token file and mount point.
    options = re.sub(r"token_file=[^,]*", f"token_file={token_file}", options)
    options = re.sub(r"cafile=[^,]*", f"cafile={tokend.cafile}", options)
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{tokend.url} {tmp_path / 'mnt'} {fstype} {options} {dump} {passno}\n")
    result, mountpoint = run_mount("mount", "--fstab", fstab, tmp_path / "mnt")
    assert_mounted_and_used(result, tokend.url, token)


@pytest.mark.parametrize("how", ["source and cafile", "origin and insecure"])
def test_mount_t_fuse_rerobotsfs_takes_every_option(how, tokend_factory, run_mount, tmp_path):
    tokend = tokend_factory(tls=True)
    token = tokend.add_user("alice")
    token_file = write_token_file(tmp_path / "jwt.txt", token)
    options = f"token_file={token_file},timeout=5,list_ttl=3,_netdev,noauto"
    if how == "source and cafile":
        source, options = tokend.url, f"{options},cafile={tokend.cafile}"
    else:
        source, options = "rerobotsfs", f"{options},origin={tokend.url},insecure"
    result, _ = run_mount("mount", "-t", "fuse.rerobotsfs", "-o", options, source,
                          tmp_path / "mnt")
    assert_mounted_and_used(result, tokend.url, token)


def test_mount_of_a_revoked_token_fails_with_one_line(tokend, run_mount, tmp_path):
    token = tokend.add_user("alice")
    assert Api(tokend.url, token).call("POST", "/purge")[0] == 200
    token_file = write_token_file(tmp_path / "jwt.txt", token)
    result, _ = run_mount("mount", "-t", "fuse.rerobotsfs", "-o",
                          f"token_file={token_file},_netdev", tokend.url, tmp_path / "mnt")
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rerobotsfs: "), result.stderr
    assert token not in result.stderr
