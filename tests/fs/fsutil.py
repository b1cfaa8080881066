"""Helpers of the filesystem suite: the mount under test, the service's API, waiting."""

import hashlib
import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from mountutil import is_mounted

MOUNT_TIMEOUT = 10
EXIT_TIMEOUT = 10
BUSY_RETRY_SECONDS = 1
# The list_ttl of a mount when a test does not care: short, so that changes made elsewhere
# show quickly.
LIST_TTL = 2
NOBODY = 65534


def token_id(token):
    """The id of a token: the SHA-256 of its text, in lowercase hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def mount_entry(path):
    """The mountinfo fields of the mount at path: (fstype, source, super options)."""
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            if fields[4] == str(path):
                after = fields[fields.index("-") + 1:]
                return after[0], after[1], after[2]
    return None


def wait_until(predicate, timeout, interval=0.05):
    """Polls predicate until it is true; returns whether it became true within timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Api:
    """Another client of the service: plain HTTP, as a second program of the user would be."""

    def __init__(self, url, token):
        self.url = url
        self.token = token

    def call(self, method, path, body=None):
        """Returns (status, decoded JSON body or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read()
            return error.code, json.loads(text) if text else None


class Mount:
    """One running rerobotsfs on a mount point."""

    def __init__(self, path, token, process):
        self.path = Path(path)
        self.token = token
        self.id = token_id(token)
        self.process = process
        self.token_file = None  # the file given with -o token_file, if any
        self.expected = []
        self._lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for line in self.process.stderr:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    def stderr_lines(self):
        with self._lock:
            return list(self._lines)

    def expect(self, pattern):
        """Lets the driver print lines matching pattern (a regular expression) without failing."""
        self.expected.append(re.compile(pattern))

    def unexpected_lines(self):
        return [
            line
            for line in self.stderr_lines()
            if not any(pattern.search(line) for pattern in self.expected)
        ]

    def wait_mounted(self):
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not is_mounted(self.path):
            if self.process.poll() is not None:
                self._reader.join(timeout=EXIT_TIMEOUT)
                raise AssertionError(
                    f"rerobotsfs exited with {self.process.returncode} before mounting:\n"
                    + "\n".join(self.stderr_lines())
                )
            if time.monotonic() >= deadline:
                self.process.kill()
                raise AssertionError(f"{self.path} was not mounted within {MOUNT_TIMEOUT} s")
            time.sleep(0.02)

    def unmount(self):
        """fusermount3 -u, then asserts the driver exited 0 and printed nothing unexpected.

        A mount is busy while the driver makes one of its own calls on it, for a few
        milliseconds after a change (the man page's caveat): an unmount that comes then is
        tried again, for at most BUSY_RETRY_SECONDS.
        """
        deadline = time.monotonic() + BUSY_RETRY_SECONDS
        while is_mounted(self.path):
            result = subprocess.run(["fusermount3", "-u", str(self.path)], capture_output=True,
                                    text=True, timeout=EXIT_TIMEOUT)
            if result.returncode == 0:
                break
            if "busy" not in result.stderr or time.monotonic() >= deadline:
                raise AssertionError(f"fusermount3 -u failed: {result.stderr}")
            time.sleep(0.05)
        try:
            returncode = self.process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"rerobotsfs did not exit within {EXIT_TIMEOUT} s of unmounting")
        self._reader.join(timeout=EXIT_TIMEOUT)
        assert returncode == 0, f"rerobotsfs exited with {returncode}:\n" + "\n".join(
            self.stderr_lines()
        )
        unexpected = self.unexpected_lines()
        assert not unexpected, "rerobotsfs printed:\n" + "\n".join(unexpected)
        assert self.token not in "\n".join(self.stderr_lines())


def write_token_file(path, token, mode=0o600):
    path = Path(path)
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def run_as_nobody(command, **kwargs):
    """Runs command (a list) as user nobody; returns the CompletedProcess."""
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command],
        **kwargs,
    )


def log_mark(tokend):
    """Where the service's log ends now: what traffic_since() counts from."""
    return len(tokend.log_lines())


def traffic_since(tokend, mark):
    """(requests, connections): the request lines and the TCP connections the service
    logged after mark, once no request came for a moment."""
    settled_requests(tokend)
    lines = tokend.log_lines()[mark:]
    requests = [line for line in lines if tokend.REQUEST_LINE.match(line)]
    connections = sum(1 for line in lines if tokend.CONNECTION_LINE.match(line))
    return requests, connections


def settled_requests(tokend, method=None, path=None, quiet=0.3):
    """The service's request lines once none came for quiet seconds.

    The service logs a request before it answers, so the request a
    system call waited for is in the log when the call returns; the wait
    is for the requests the driver makes after the call returned (its
    notification and renewal threads, the page-cache store).
    """
    lines = tokend.requests(method, path)
    deadline = time.monotonic() + quiet
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = tokend.requests(method, path)
        if now != lines:
            lines = now
            deadline = time.monotonic() + quiet
    return lines


def make_tokens(url, token, count):
    """POST /tokens count times, from a few threads with a kept-alive session each."""
    local = threading.local()

    def make(_):
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = "Bearer " + token
        response = local.session.post(url + "/tokens", json={"duration": 3600}, timeout=30)
        assert response.status_code == 201, response.text

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(make, range(count)))
