"""Readers racing the kernel's page reclaim never hang the mount, with -s or without.

The kernel locks a file's page while it waits for the driver to answer a
READ of it. A driver that handed pages to the kernel from inside a request
handler (fuse_lowlevel_notify_store waits for that same page lock) could
wait for a READ that only it could answer: the mount hung, and so did
`fusermount3 -u`. Readers that keep reading every file while the page cache
is dropped under them every 50 ms brought that about within seconds.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsutil import wait_until

STRESS_SECONDS = 20
# How long past its end a reader may take before the mount counts as hung.
HANG_SECONDS = 10
DROP_INTERVAL = 0.05
CONNECTIONS = Path("/sys/fs/fuse/connections")

# Two threads listing the root and reading all three files of every token, for argv[2] s;
# with argv[3] "churn", a third making a token of 2 s every 0.3 s, so that tokens keep being
# renamed and removed by the driver (a token may then go between listing and reading it).
READERS = r"""
import os, sys, threading, time
root, seconds, churn = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "churn"
end = time.monotonic() + seconds
def read_all():
    while time.monotonic() < end:
        for name in os.listdir(root):
            for file in ("jwt.txt", "created", "expires"):
                try:
                    with open(os.path.join(root, name, file), "rb") as f:
                        f.read()
                except FileNotFoundError:
                    if not churn:
                        raise
def make_tokens():
    while time.monotonic() < end:
        os.mkdir(os.path.join(root, "2s"))
        time.sleep(0.3)
threads = [threading.Thread(target=read_all) for _ in range(2)]
if churn:
    threads.append(threading.Thread(target=make_tokens))
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def connection_of(path):
    """The FUSE connection's control directory for the mount at path (fusectl mounted if need be)."""
    if not os.listdir(CONNECTIONS):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", str(CONNECTIONS)], check=True)
    return CONNECTIONS / str(os.minor(os.stat(path).st_dev))


def blocked_threads(pids):
    """The threads of pids that are in uninterruptible sleep, as "pid/tid: kernel function"."""
    found = []
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            task = f"/proc/{pid}/task/{tid}"
            try:
                state = Path(task, "stat").read_text().rsplit(")", 1)[1].split()[0]
                wchan = Path(task, "wchan").read_text()
            except OSError:
                continue
            if state == "D":
                found.append(f"{pid}/{tid}: {wchan}")
    return found


def stress(mount, churn=False):
    """Runs READERS on mount while the page cache is dropped every DROP_INTERVAL; fails on a
    hang, after aborting the connection so that nothing stays stuck."""
    connection = connection_of(mount.path)
    readers = subprocess.Popen([sys.executable, "-c", READERS, str(mount.path),
                                str(STRESS_SECONDS), "churn" if churn else "read"],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + STRESS_SECONDS + HANG_SECONDS
    try:
        while readers.poll() is None and time.monotonic() < deadline:
            with open("/proc/sys/vm/drop_caches", "w") as drop:
                drop.write("3")
            time.sleep(DROP_INTERVAL)
        hung = readers.poll() is None
        blocked = blocked_threads([mount.process.pid]) if hung else []
    finally:
        if readers.poll() is None:
            # Ends every request of the mount, so that the readers and the unmount return.
            (connection / "abort").write_text("1")
            mount.expect(r".")
            readers.send_signal(signal.SIGKILL)
        readers.wait()
    assert not hung, f"the readers hung; the driver's blocked threads: {blocked}"
    assert readers.returncode == 0, readers.stderr.read()


# The multi-threaded loop hangs where every worker is caught at once: with one worker, surely.
@pytest.mark.parametrize("flags", [("-s",), ("-o", "max_threads=1")],
                         ids=["single-threaded", "multi-threaded-one-worker"])
def test_readers_racing_dropped_caches_never_hang_the_mount(mount_factory, flags):
    if os.geteuid() != 0:
        pytest.skip("dropping the kernel's caches needs root")
    mount = mount_factory(list_ttl=1, flags=flags)
    for duration in ("1h", "2h", "3h"):
        os.mkdir(mount.path / duration)
    assert wait_until(lambda: len(os.listdir(mount.path)) == 4, 3)
    stress(mount)


def test_the_drivers_own_calls_racing_readers_never_hang_the_mount(mount_factory):
    # The calls that keep open views true (renames, removals of expired tokens) are made while
    # the one loop thread serves readers whose pages keep being dropped.
    if os.geteuid() != 0:
        pytest.skip("dropping the kernel's caches needs root")
    mount = mount_factory(list_ttl=1, flags=("-s",))
    stress(mount, churn=True)
    assert wait_until(lambda: os.listdir(mount.path) == [mount.id], 4)
