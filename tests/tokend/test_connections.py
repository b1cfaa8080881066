"""Connection limits and the request deadline: idle or trickling clients do not starve others.

Every socket here is on the loopback interface. Linux routes all of
127.0.0.0/8 there, so a test can play several client addresses by binding
its sockets to 127.0.0.2, 127.0.1.7 and so on.
"""

import http.client
import json
import resource
import socket
import subprocess
import time

import pytest

from tokend_client import TIMEOUT

SLOW_SOCKETS = 1100
HEADER_LINE = b"X-Slow: 1\r\n"


@pytest.fixture
def many_files():
    """Lets this process open the slow sockets (the service keeps the limit it started with)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = SLOW_SOCKETS + 256
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard limit of open files ({hard}) is under {needed}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def host_port(tokend):
    host, port = tokend.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def open_slow_sockets(tokend, sources):
    """One socket from each source address, each having sent a request line and one header line."""
    sockets = []
    for source in sources:
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.settimeout(2)
        sockets.append(slow)
        try:
            slow.bind((source, 0))
            slow.connect(host_port(tokend))
            slow.sendall(b"GET /tokens HTTP/1.1\r\nHost: x\r\n" + HEADER_LINE)
        except OSError:  # refused or reset by a service at its limit: what the test wants
            pass
    return sockets


def trickle(sockets):
    """One more header line on every socket still open; returns how many took it."""
    alive = 0
    for slow in sockets:
        try:
            slow.send(HEADER_LINE)
            alive += 1
        except OSError:
            pass
    return alive


def is_open(connection):
    """Whether the service has not closed this connection (no end of stream or reset yet)."""
    connection.setblocking(False)
    try:
        return connection.recv(4096) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def close_all(sockets):
    for slow in sockets:
        slow.close()


def get_tokens(tokend, token, source, timeout):
    """GET /tokens from the source address; the status, or None when no answer came in time."""
    connection = http.client.HTTPConnection(*host_port(tokend), timeout=timeout,
                                            source_address=(source, 0))
    try:
        connection.request("GET", "/tokens", headers={"Authorization": "Bearer " + token})
        response = connection.getresponse()
        json.loads(response.read())
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def test_a_client_is_served_while_1100_slow_sockets_from_one_address_are_open(tokend, many_files):
    token = tokend.add_user("alice")
    sockets = open_slow_sockets(tokend, ["127.0.0.1"] * SLOW_SOCKETS)
    try:
        # Without the limits this waits in the listen queue behind the slow sockets.
        assert get_tokens(tokend, token, "127.0.0.2", timeout=5) == 200
    finally:
        close_all(sockets)
    assert get_tokens(tokend, token, "127.0.0.1", timeout=TIMEOUT) == 200


def test_slots_held_from_many_addresses_are_freed_by_the_deadline(tokend_factory):
    tokend = tokend_factory("--request-timeout", "2s", "--max-connections", "64")
    token = tokend.add_user("alice")
    sockets = open_slow_sockets(tokend, [f"127.0.1.{1 + index}" for index in range(64)])
    try:
        assert trickle(sockets) == 64
        started = time.monotonic()
        assert get_tokens(tokend, token, "127.0.2.1", timeout=10) == 200
        # It waited in the queue until the deadline closed the slow ones.
        assert 1 <= time.monotonic() - started < 8
        assert not any(is_open(slow) for slow in sockets)
    finally:
        close_all(sockets)


def wait_closed(connection, trickle_every, limit):
    """Seconds until the service closes a connection that trickles a header line now and then."""
    started = time.monotonic()
    connection.settimeout(trickle_every)
    while time.monotonic() - started < limit:
        try:
            if connection.recv(4096) == b"":
                return time.monotonic() - started
        except socket.timeout:
            try:
                connection.send(HEADER_LINE)
            except OSError:
                return time.monotonic() - started
        except OSError:
            return time.monotonic() - started
    return None


@pytest.mark.parametrize(
    "start",
    [b"GET /tokens HTTP/1.1\r\nHost: x\r\n",
     b"POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"],
    ids=["headers", "body"],
)
def test_a_request_that_trickles_in_is_closed_at_the_deadline(tokend_factory, start):
    tokend = tokend_factory("--request-timeout", "2s")
    with socket.create_connection(host_port(tokend), timeout=TIMEOUT) as connection:
        connection.sendall(start)
        closed_after = wait_closed(connection, 0.3, limit=10)
    assert closed_after is not None and 1.5 <= closed_after < 6
    assert any(line == "rerobots-tokend: connection 1 closed: its request did not arrive within 2 s"
               for line in tokend.log_lines())


def test_a_kept_alive_connection_gets_a_new_deadline_per_request(tokend_factory):
    tokend = tokend_factory("--request-timeout", "2s")
    token = tokend.add_user("alice")
    connection = http.client.HTTPConnection(*host_port(tokend), timeout=TIMEOUT)
    try:
        for _ in range(8):
            connection.request("GET", "/tokens", headers={"Authorization": "Bearer " + token})
            assert connection.getresponse().read()
            time.sleep(0.5)
    finally:
        connection.close()
    assert tokend.connections() == 1


def test_max_connections_over_the_open_file_limit_exits_1(build_dir, tmp_path):
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    result = subprocess.run(
        [build_dir / "rerobots-tokend", "--data", tmp_path / "state", "--listen", "127.0.0.1:0",
         "--max-connections", "1000"],
        capture_output=True, text=True, timeout=30, preexec_fn=low_limit,
    )
    assert result.returncode == 1
    assert "ulimit -Hn" in result.stderr
