"""Fixtures shared by every pytest suite: a real rerobots-tokend on a free port.

    def test_something(tokend):
        token = tokend.add_user("alice")
        requests.get(tokend.url + "/tokens", headers={"Authorization": "Bearer " + token})
        assert tokend.requests("GET", "/tokens")

The service runs in the foreground with its stderr going to a file next to
its data directory, so a test can count the requests and connections it
logged (the line formats are a contract, see REQUEST_LINE and
CONNECTION_LINE). The service writes a request's line before it sends the
answer, so once a test has its response, the line is in the file: counting
needs no waiting. At teardown the service is stopped with SIGTERM and the
test fails unless it exited 0.
"""

import functools
import http.server
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

import postgres

REPO_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 10
STOP_TIMEOUT = 10

# rerobots-tokend: GET /tokens?with_token=1 200 alice 0.3ms conn=1
REQUEST_LINE = re.compile(
    r"^rerobots-tokend: (?P<method>\S+) (?P<path>\S+) (?P<status>\d{3}) "
    r"(?P<user>\S+) (?P<ms>\d+\.\d)ms conn=(?P<conn>\d+)$"
)
# rerobots-tokend: connection 1 accepted
CONNECTION_LINE = re.compile(r"^rerobots-tokend: connection (?P<conn>\d+) accepted$")
LISTENING_LINE = re.compile(r"listening on (?P<url>https?://\S+)$")
# What AddressSanitizer, LeakSanitizer and UBSan print, in a build with -Db_sanitize.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error: ")


@pytest.fixture(scope="session")
def build_dir():
    """The meson build directory: $REROBOTS_BUILD_DIR (relative to the repository), else build/."""
    path = Path(os.environ.get("REROBOTS_BUILD_DIR", "build"))
    if not path.is_absolute():
        path = REPO_DIR / path
    if not (path / "rerobots-tokend").is_file():
        pytest.skip(f"{path}/rerobots-tokend is missing: run `meson compile -C {path}` first")
    return path


class Tokend:
    """One rerobots-tokend process on a data directory, restartable on the same directory."""

    REQUEST_LINE = REQUEST_LINE
    CONNECTION_LINE = CONNECTION_LINE

    def __init__(self, binary, data_dir, options=(), cafile=None, listen="127.0.0.1:0",
                 db_url=None, postgres_server=None):
        self.binary = Path(binary)
        # With db_url (PostgreSQL), data_dir only names the log: the state is in the database.
        self.data_dir = Path(data_dir)
        self.db_url = db_url
        self.postgres = postgres_server
        self.log_path = self.data_dir.with_name(self.data_dir.name + ".log")
        self.options = list(options)
        self.cafile = cafile
        self.listen = listen
        self.url = None
        self.process = None
        self.killed = False

    def start(self):
        """Starts the service (again) on data_dir and waits for its `listening on` line."""
        assert not self.running, "already running"
        self.killed = False
        first_line = len(self.log_lines())
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, *self.state_options(), "--listen", self.listen, *self.options],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.url = self._wait_for_url(first_line)
        return self

    def _wait_for_url(self, first_line):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            lines = self.log_lines()[first_line:]
            for line in lines:
                match = LISTENING_LINE.search(line)
                if match:
                    return match.group("url")
            if self.process.poll() is not None:
                raise AssertionError(
                    f"rerobots-tokend exited with {self.process.returncode} before listening:\n"
                    + "\n".join(lines)
                )
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"rerobots-tokend did not listen within {START_TIMEOUT} s")
            time.sleep(0.01)

    def state_options(self):
        """Where the state is: --db URL with PostgreSQL, else --data DIR."""
        return ["--db", self.db_url] if self.db_url else ["--data", self.data_dir]

    @property
    def backend(self):
        return "postgresql" if self.db_url else "sqlite"

    def sql(self, statement):
        """Runs statement on the service's database (sqlite3 or psql); its rows as lists of strings."""
        if self.db_url:
            return self.postgres.sql(self.db_url, statement)
        database = sqlite3.connect(self.data_dir / "tokens.db", isolation_level=None)
        try:
            return [[str(value) for value in row] for row in database.execute(statement)]
        finally:
            database.close()

    def signing_key_pem(self):
        """The private signing key in PEM form, wherever the backend keeps it."""
        if self.db_url:
            return self.postgres.value(self.db_url, "SELECT pem FROM signing_key").encode()
        return (self.data_dir / "signing-key.pem").read_bytes()

    def add_user(self, name, duration=None):
        """Runs `--add-user NAME [--duration D]` on the service's state and returns the token text."""
        command = [self.binary, *self.state_options(), "--add-user", name]
        if duration is not None:
            command += ["--duration", duration]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"--add-user {name} failed: {result.stderr}"
        lines = result.stdout.splitlines()
        assert len(lines) == 1, f"--add-user printed {len(lines)} lines"
        return lines[0]

    def log_lines(self):
        """Every complete stderr line of every run so far, oldest first."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return text[: text.rfind("\n") + 1].splitlines()

    def requests(self, method=None, path=None):
        """The request lines, optionally only those with this method and a path starting with path."""
        found = []
        for line in self.log_lines():
            match = REQUEST_LINE.match(line)
            if not match:
                continue
            if method is not None and match.group("method") != method:
                continue
            if path is not None and not match.group("path").startswith(path):
                continue
            found.append(line)
        return found

    def sanitizer_reports(self):
        """The lines of sanitizer reports in the service's log."""
        return [line for line in self.log_lines() if SANITIZER_REPORT.search(line)]

    def connections(self):
        """How many TCP connections the service accepted, over all runs."""
        return sum(1 for line in self.log_lines() if CONNECTION_LINE.match(line))

    def _wait(self):
        try:
            returncode = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"rerobots-tokend did not exit within {STOP_TIMEOUT} s")
        return returncode

    def stop(self):
        """SIGTERM; asserts a clean exit (status 0)."""
        self.process.send_signal(signal.SIGTERM)
        returncode = self._wait()
        assert returncode == 0, f"rerobots-tokend exited with {returncode} after SIGTERM"

    def kill(self):
        """SIGKILL, as a crash of the process would."""
        self.killed = True
        self.process.kill()
        self._wait()

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None


def make_tls_certificate(directory):
    """A self-signed certificate for 127.0.0.1; returns (cert, key) paths."""
    cert = Path(directory) / "cert.pem"
    key = Path(directory) / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="session")
def postgres_server():
    """The test run's own PostgreSQL (see postgres.py), started by the first test that needs it."""
    if not postgres.available():
        pytest.skip("PostgreSQL 15 is missing: apt-get install postgresql")
    server = postgres.PostgresServer.start()
    yield server
    server.remove()


@pytest.fixture
def tokend_backend():
    """The storage of the services tokend_factory starts; tests/tokend runs both."""
    return "sqlite"


@pytest.fixture
def tokend_factory(build_dir, tmp_path, tokend_backend, request):
    """make(*options, tls=False, data_dir=None, listen="127.0.0.1:0", db_url=None) starts a service.

    With tls=True it serves HTTPS with a certificate made for the test, whose
    path is the returned service's cafile. With the postgresql backend each
    service gets a new database, unless db_url names one (a replica of
    another service: pass its db_url). Every service made is stopped at
    teardown, and the test fails unless it exited 0.
    """
    started = []

    def make(*options, tls=False, data_dir=None, listen="127.0.0.1:0", db_url=None):
        index = len(started)
        options = list(options)
        cafile = None
        if tls:
            cert, key = make_tls_certificate(tmp_path)
            options += ["--tls-cert", cert, "--tls-key", key]
            cafile = str(cert)
        server = None
        if tokend_backend == "postgresql":
            server = request.getfixturevalue("postgres_server")
            db_url = db_url or server.create_database()
        service = Tokend(
            build_dir / "rerobots-tokend",
            data_dir or tmp_path / f"tokend-{index}",
            options,
            cafile,
            listen,
            db_url,
            server,
        )
        started.append(service)
        return service.start()

    yield make
    for service in started:
        if service.running:
            service.stop()
        elif not service.killed:
            returncode = service.process.returncode
            assert returncode == 0, f"rerobots-tokend died with {returncode} during the test"
        assert not service.sanitizer_reports(), "\n".join(service.log_lines())


@pytest.fixture
def tokend(tokend_factory):
    """A running rerobots-tokend with default options on a fresh data directory."""
    return tokend_factory()


@pytest.fixture(scope="class")
def class_tokend(build_dir, tmp_path_factory):
    """A rerobots-tokend shared by the tests of one class, for data that is slow to make."""
    service = Tokend(build_dir / "rerobots-tokend", tmp_path_factory.mktemp("tokend") / "data")
    service.start()
    yield service
    service.stop()


class PlainHttpServer:
    """Python's http.server serving `directory` at `url`: a web server that is not the token API."""

    def __init__(self, directory):
        self.directory = directory
        handler = functools.partial(QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def plain_http_server(tmp_path):
    """A PlainHttpServer of a directory holding an index.html; a test may add files."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body>not the token API</body></html>\n")
    server = PlainHttpServer(site)
    yield server
    server.stop()
