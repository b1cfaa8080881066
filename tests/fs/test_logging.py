"""Where the driver's messages go (rerobotsfs(1), DIAGNOSTICS): stderr with -f, syslog (the journal) once daemonized."""

import errno
import json
import os
import re
import subprocess

import pytest

from fsutil import MOUNT_TIMEOUT, wait_until, write_token_file

# Run under `unshare --mount` with argv: driver, origin, token file, mount point. /dev is a
# fresh tmpfs there, so this program's socket is the /dev/log the daemon's syslog(3) writes
# to, as journald's is on a systemd machine. Prints the datagrams received, as JSON.
SYSLOG_PROGRAM = r"""
import json, os, socket, subprocess, sys
driver, origin, token_file, mountpoint = sys.argv[1:]
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/dev"], check=True)
for name, minor in (("null", 3), ("fuse", 229)):
    os.mknod("/dev/" + name, 0o20666, os.makedev(1 if name == "null" else 10, minor))
    os.chmod("/dev/" + name, 0o666)
log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
log.bind("/dev/log")
log.settimeout(10)
started = subprocess.run([driver, "-o", f"origin={origin},token_file={token_file}", mountpoint],
                         capture_output=True, text=True, timeout=10)
try:
    os.mkdir(os.path.join(mountpoint, "Untitled Folder"))
    mkdir_error = 0
except OSError as error:
    mkdir_error = error.errno
subprocess.run(["fusermount3", "-u", mountpoint], check=True)
received = [log.recv(4096).decode(errors="replace")]
print(json.dumps({"returncode": started.returncode, "stdout": started.stdout,
                  "stderr": started.stderr, "mkdir_error": mkdir_error,
                  "received": received}))
"""


def test_foreground_driver_logs_to_stderr(mount):
    mount.expect(r'^rerobotsfs: mkdir "Untitled Folder": not a duration')
    with pytest.raises(OSError) as raised:
        os.mkdir(mount.path / "Untitled Folder")
    assert raised.value.errno == errno.EINVAL
    assert wait_until(lambda: any(line.startswith('rerobotsfs: mkdir "Untitled Folder"')
                                  for line in mount.stderr_lines()), MOUNT_TIMEOUT)


def test_daemonized_driver_logs_to_syslog(driver, tokend, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root: the test gives the driver a /dev/log of its own")
    # Valid for longer than a day, so that no warning of its expiry comes before the message.
    token = tokend.add_user("alice", duration="30d")
    token_file = write_token_file(tmp_path / "jwt.txt", token)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "/usr/bin/python3", "-c",
         SYSLOG_PROGRAM, str(driver), tokend.url, str(token_file), str(mountpoint)],
        capture_output=True, text=True, timeout=3 * MOUNT_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert (outcome["returncode"], outcome["stdout"], outcome["stderr"]) == (0, "", "")
    assert outcome["mkdir_error"] == errno.EINVAL
    # <30> is LOG_DAEMON | LOG_INFO; the ident carries the daemon's pid.
    (message,) = outcome["received"]
    assert re.match(r'^<30>.* rerobotsfs\[\d+\]: mkdir "Untitled Folder": not a duration',
                    message), message
    assert token not in message
