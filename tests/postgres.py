"""A PostgreSQL server of the test run's own, from Debian's packages.

    server = PostgresServer.start(directory)
    url = server.create_database()      # postgresql://tokend@127.0.0.1:PORT/tokend_1
    server.sql(url, "SELECT 1")
    server.restart()
    server.stop()

initdb and pg_ctl run on a temporary directory as an unprivileged user
(nobody when the tests run as root: initdb refuses root), and the server
listens on 127.0.0.1 on a free port with its socket in that directory, so
no server or file of the machine is touched.
"""

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "tokend"


def available():
    return (BIN_DIR / "initdb").is_file() and (BIN_DIR / "pg_ctl").is_file()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self, directory, port, user):
        self.directory = Path(directory)
        self.data = self.directory / "data"
        self.port = port
        self.user = user
        self.counter = itertools.count(1)

    @classmethod
    def start(cls, parent=None):
        """initdb on a new directory (under parent, else /tmp) and start the server."""
        directory = tempfile.mkdtemp(prefix="tokend-pg-", dir=parent)
        user = None
        if os.geteuid() == 0:
            user = "nobody"
            entry = pwd.getpwnam(user)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
            # nobody must reach the directory: a parent that is root's own (0700) hides it.
            os.chmod(directory, 0o755)
        server = cls(directory, free_port(), user)
        server._run(BIN_DIR / "initdb", "-D", server.data, "-U", SUPERUSER, "--auth=trust",
                    "--no-sync", "-E", "UTF8", "--locale=C")
        server._start()
        return server

    def _run(self, *command, check=True):
        return subprocess.run([str(part) for part in command], user=self.user, cwd=self.directory,
                              capture_output=True, text=True, check=check, timeout=120)

    def _start(self):
        options = f"-h 127.0.0.1 -p {self.port} -k {self.directory} -c max_connections=300"
        self._run(BIN_DIR / "pg_ctl", "-D", self.data, "-l", self.directory / "server.log",
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self._run(BIN_DIR / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def restart(self):
        """Stops the server (fast: clients are cut off) and starts it again on the same port."""
        self.stop()
        self._start()

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database):
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self):
        """A new, empty database for one test; its URL."""
        name = f"tokend_{next(self.counter)}"
        self.sql(self.url("postgres"), f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, url, statement):
        """Runs statement with psql; its rows as lists of strings."""
        result = self._run(BIN_DIR / "psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v",
                           "ON_ERROR_STOP=1", "-d", url, "-c", statement)
        return [line.split("\t") for line in result.stdout.splitlines()]

    def value(self, url, statement):
        """The one value statement returns, as psql prints it (newlines kept)."""
        result = self._run(BIN_DIR / "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           "-d", url, "-c", statement)
        return result.stdout.removesuffix("\n")

    def session(self, url):
        """A psql process reading statements from its stdin: for holding a lock while a test runs."""
        return subprocess.Popen([str(BIN_DIR / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
                                user=self.user, cwd=self.directory, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
