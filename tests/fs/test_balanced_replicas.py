"""A mount whose origin is nginx in front of two rerobots-tokend replicas on one PostgreSQL.

nginx runs with the configuration of contrib/ (its addresses replaced by
the test's), on a free port of 127.0.0.1, from a directory of the test's.
While the mount makes, reads and revokes tokens, one replica is killed
(SIGKILL) and later started again: the mount keeps its contract, with at
most one retried operation where the replica died under a request.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fsutil import Api
from postgres import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONFIG = Path(__file__).resolve().parents[2] / "contrib/nginx-rerobots-tokend.conf"


@pytest.fixture
def tokend_backend():
    return "postgresql"


class Nginx:
    def __init__(self, directory, replicas):
        self.directory = Path(directory)
        self.directory.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        site = CONFIG.read_text()
        for placeholder, replica in zip(["127.0.0.1:8081", "127.0.0.1:8082"], replicas):
            site = site.replace(placeholder, replica.url.split("//", 1)[1])
        site = site.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{self.port};")
        temp = self.directory / "temp"
        (self.directory / "nginx.conf").write_text(f"""
daemon off;
pid {self.directory}/nginx.pid;
error_log {self.directory}/error.log;
{"user root;" if os.geteuid() == 0 else ""}
events {{}}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{site}
}}
""")
        temp.mkdir()
        self.process = subprocess.Popen([NGINX, "-p", str(self.directory), "-c",
                                         str(self.directory / "nginx.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                assert self.process.poll() is None, self.process.stderr.read()
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)

    def stop(self):
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(timeout=10)


@pytest.fixture
def balanced(tokend, tokend_factory, tmp_path):
    """Two replicas (the first is the tokend fixture) that restart on their own ports, and nginx."""
    if not os.access(NGINX, os.X_OK):
        pytest.skip("nginx is missing: apt-get install nginx")
    other = tokend_factory(db_url=tokend.db_url)
    for replica in (tokend, other):
        replica.listen = replica.url.split("//", 1)[1]
    nginx = Nginx(tmp_path / "nginx", [tokend, other])
    yield tokend, other, nginx
    nginx.stop()


def retried_once(operation):
    """operation(), and once more where it failed: a replica died under the first try."""
    try:
        return operation(), 0
    except OSError:
        return operation(), 1


def test_a_mount_through_nginx_keeps_its_contract_while_a_replica_dies_and_returns(
        balanced, mount_factory):
    one, two, nginx = balanced
    token = one.add_user("alice")
    mount = mount_factory(list_ttl=1, token=token, origin=False,
                          options=[f"origin={nginx.url}", "timeout=10"])
    mount.expect(r"^rerobotsfs: ")
    api = Api(nginx.url, token)

    def kill_and_restart():
        time.sleep(1)
        one.kill()
        time.sleep(2)
        one.start()

    chaos = threading.Thread(target=kill_and_restart)
    chaos.start()
    retries = 0
    made = 0
    made_while_down = 0
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline or chaos.is_alive():
        down = not one.running
        before = set(os.listdir(mount.path))
        _, retried = retried_once(lambda: os.mkdir(mount.path / "1h"))
        retries += retried
        new = set(os.listdir(mount.path)) - before
        # A retried mkdir may leave the first try's token too, which the driver revokes.
        assert 1 <= len(new) <= 1 + retried, new
        made_id = sorted(new)[0]
        text, retried = retried_once(lambda: (mount.path / made_id / "jwt.txt").read_text())
        retries += retried
        status, body = api.call("GET", f"/token/{made_id}")
        assert status == 200 and body["token"] == text.strip()
        _, retried = retried_once(lambda: os.rmdir(mount.path / made_id))
        retries += retried
        assert made_id not in os.listdir(mount.path)
        status, body = api.call("GET", f"/token/{made_id}")
        assert status == 404, body
        made += 1
        made_while_down += down
        # Paced, to stay within the rate limit of one user (3600 requests an hour).
        time.sleep(0.02)
    chaos.join()
    assert one.running and two.running
    # nginx balanced the load: both replicas made tokens.
    assert one.requests("POST", "/tokens") and two.requests("POST", "/tokens")
    assert made >= 5 and made_while_down >= 1
    assert retries <= 2, f"{retries} operations needed a retry"
    time.sleep(1.2)
    status, body = api.call("GET", "/tokens")
    assert status == 200
    listed = {entry["id"] for entry in body["tokens"]}
    assert set(os.listdir(mount.path)) == listed
    assert not re.search(r"Segmentation|Assertion", "\n".join(mount.stderr_lines()))
