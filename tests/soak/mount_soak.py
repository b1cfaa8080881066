"""Load on one mount: 8 threads of ls -l, stat, cat, mkdir and rmdir for a while.

    /usr/bin/python3 tests/soak/mount_soak.py [SECONDS]    # default 60; see tests/soak/run

Runs a rerobots-tokend and a rerobotsfs of $REROBOTS_BUILD_DIR (default
build/) as the pytest suites do, then lets 8 threads loose on the mount. Each
thread makes tokens under a duration name of its own ("1h1m" for thread 1),
reads the new token through that name, and keeps at most a few, revoking the
oldest; between those it lists the root with a stat of every entry (ls -l),
stats and reads its own tokens and the mount's token.

A directory inode has one name in the kernel: when another thread looks the
new token up by its id (ls -l does) before this one reads it through the
duration name, the kernel moves the name, and the read is ENOENT. The
thread then finds its token in the listing by its duration, which is its
own, and the script counts how often that happened.

Fails (exit 1) on any unexpected error. The only expected one is ENOENT in
ls -l, for a token another thread revoked between the listing and the stat.
At the end every token the service ever made must be either revoked or
listed in the mount, every mkdir that returned 0 must have made exactly one
of them, and the driver's resident memory must be within 10% of what it
was after the first 10 s.
"""

import errno
import calendar
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS), str(TESTS / "fs")]

from conftest import Tokend  # noqa: E402
from fsutil import Mount, token_id, wait_until, write_token_file  # noqa: E402

THREADS = 8
KEPT = 4
WARM_UP = 10
RSS_GROWTH_MAX = 0.10
# Weights of the operations: a file manager lists and reads far more than it changes.
OPERATIONS = {"ls -l": 30, "stat": 25, "cat": 25, "mkdir": 10, "rmdir": 10}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class Worker(threading.Thread):
    def __init__(self, index, mount, deadline):
        super().__init__(daemon=True)
        self.mount = mount
        self.name_for_mkdir = f"1h{index + 1}m"
        self.duration = 3600 + 60 * (index + 1)
        self.deadline = deadline
        self.random = random.Random(index)
        self.own = []
        self.counts = {name: 0 for name in OPERATIONS}
        self.mkdirs = 0
        self.unexpected = []
        self.races = 0
        self.names_moved = 0

    def fail(self, operation, error):
        self.unexpected.append(f"{operation}: {error}")

    def ls_l(self):
        for entry in os.scandir(self.mount.path):
            try:
                entry.stat()
            except FileNotFoundError:
                self.races += 1

    def stat(self):
        target = self.random.choice(self.own + [self.mount.id])
        os.stat(self.mount.path / target / "expires")

    def cat(self):
        target = self.random.choice(self.own + [self.mount.id])
        text = (self.mount.path / target / "jwt.txt").read_text().strip()
        if token_id(text) != target:
            self.fail("cat", f"{target}/jwt.txt holds another token")

    def mkdir(self):
        os.mkdir(self.mount.path / self.name_for_mkdir)
        self.mkdirs += 1
        try:
            text = (self.mount.path / self.name_for_mkdir / "jwt.txt").read_text().strip()
            self.own.append(token_id(text))
        except FileNotFoundError:
            self.names_moved += 1
            self.own.append(self.find_new_token())

    def find_new_token(self):
        """The listed token of this thread's duration that it does not know yet."""
        for name in os.listdir(self.mount.path):
            if name in self.own or name == self.mount.id:
                continue
            try:
                created = read_time(self.mount.path / name / "created")
                expires = read_time(self.mount.path / name / "expires")
            except FileNotFoundError:
                continue
            if expires - created == self.duration:
                return name
        raise OSError(errno.ENOENT, "the token just made is not listed")

    def rmdir(self):
        if self.own:
            os.rmdir(self.mount.path / self.own.pop(0))

    def run(self):
        names = list(OPERATIONS)
        weights = [OPERATIONS[name] for name in names]
        calls = {"ls -l": self.ls_l, "stat": self.stat, "cat": self.cat, "mkdir": self.mkdir,
                 "rmdir": self.rmdir}
        while time.monotonic() < self.deadline:
            operation = self.random.choices(names, weights)[0]
            if operation == "mkdir" and len(self.own) >= KEPT:
                operation = "rmdir"
            try:
                calls[operation]()
                self.counts[operation] += 1
            except OSError as error:
                self.fail(operation, f"{errno.errorcode.get(error.errno)} {error}")


def read_time(path):
    return calendar.timegm(time.strptime(path.read_text().strip(), "%Y-%m-%dT%H:%M:%SZ"))


def service_tokens(data_dir):
    """(id, revoked) of every token the service ever made, read from its database."""
    with sqlite3.connect(f"file:{data_dir}/tokens.db?mode=ro", uri=True) as db:
        return db.execute("SELECT id, revoked IS NOT NULL FROM tokens").fetchall()


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    build_dir = Path(os.environ.get("REROBOTS_BUILD_DIR", "build"))
    if not build_dir.is_absolute():
        build_dir = TESTS.parent / build_dir
    scratch = Path(tempfile.mkdtemp(prefix="rerobots-soak-"))
    tokend = Tokend(build_dir / "rerobots-tokend", scratch / "tokend",
                    ["--rate-limit", "100000000"])
    tokend.start()
    mount = None
    try:
        token = tokend.add_user("alice")
        token_file = write_token_file(scratch / "jwt.txt", token)
        mountpoint = scratch / "mnt"
        mountpoint.mkdir()
        process = subprocess.Popen(
            [build_dir / "rerobotsfs", "-f", "-o",
             f"origin={tokend.url},token_file={token_file},list_ttl=2", mountpoint],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace")
        mount = Mount(mountpoint, token, process)
        mount.wait_mounted()

        started = time.monotonic()
        workers = [Worker(index, mount, started + seconds) for index in range(THREADS)]
        for worker in workers:
            worker.start()
        time.sleep(min(WARM_UP, seconds))
        rss_warm = rss_kib(process.pid)
        for worker in workers:
            worker.join()
        rss_end = rss_kib(process.pid)

        unexpected = [line for worker in workers for line in worker.unexpected]
        made = sum(worker.mkdirs for worker in workers)
        tokens = service_tokens(tokend.data_dir)
        active = {token_id for token_id, revoked in tokens if not revoked}
        # The mount's listing may be up to list_ttl old.
        listed_ok = wait_until(lambda: set(os.listdir(mountpoint)) == active, 5)
        for operation in OPERATIONS:
            print(f"{operation}: {sum(worker.counts[operation] for worker in workers)} calls")
        print(f"ls -l races (ENOENT on a token revoked meanwhile): "
              f"{sum(worker.races for worker in workers)}")
        print(f"duration names moved to the id by a concurrent lookup: "
              f"{sum(worker.names_moved for worker in workers)}")
        print(f"unexpected errors: {len(unexpected)}")
        for line in unexpected[:20]:
            print(f"  {line}")
        print(f"tokens made by mkdir: {made}; in the service: {len(tokens) - 1} besides the "
              f"mount's, {len(active)} active, all listed: {listed_ok}")
        print(f"driver RSS: {rss_warm} KiB after {WARM_UP} s, {rss_end} KiB at the end "
              f"({100 * (rss_end - rss_warm) / rss_warm:+.1f}%); service RSS at the end: "
              f"{rss_kib(tokend.process.pid)} KiB")
        ok = (not unexpected and listed_ok and made == len(tokens) - 1
              and rss_end <= rss_warm * (1 + RSS_GROWTH_MAX))
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if mount is not None:
            mount.unmount()
        tokend.stop()
        subprocess.run(["rm", "-rf", str(scratch)], check=True)


if __name__ == "__main__":
    sys.exit(main())
