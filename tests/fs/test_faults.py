"""Every fault of the API, against every operation: what the ERRORS section of rerobotsfs(1) promises.

Each test mounts rerobotsfs through tests/faultproxy.py, lets the data it
needs go stale, faults the one request its operation makes, and asserts the
outcome and that it came back in time, that the driver is still mounted and
answering, and, once the fault is lifted, that the mount shows the service's
state within list_ttl and that ls, mkdir, cat and rmdir all work again.

Reads are stale-if-error: ls, stat and cat of what the cache holds are
answered from it under every fault, within the timeout and a second. A read
of what the cache does not hold (a token's text never read), mkdir and rmdir
get the errno of the table. A mkdir whose request reached the service made
one token, however often the driver retried it, and a failed mkdir leaves
no live token once the service answers again.
"""

import errno
import os
import time

import pytest

from fsutil import Api, token_id, wait_until
from mountutil import is_mounted

TIMEOUT = 2
LIST_TTL = 1
# Past the listing's and the kernel's entry lifetime (both list_ttl), so that a call asks the API.
STALE = LIST_TTL + 0.1
# A rate limit that resets soon after the test lifts it, so that the mount may heed it.
RATE_LIMIT_RESET = 2

NOT_JSON = b"<html><body>502 Bad Gateway</body></html>"
WRONG_SHAPE = b'{"tokens": {"id": 7}, "id": 7, "token": ["x"], "created": "today"}'


def rate_limited():
    return (("X-RateLimit-Limit", "3600"), ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", str(int(time.time()) + RATE_LIMIT_RESET)))


# name: (fault parameters, whether the service saw the request, errno of a read the cache cannot
# answer, of mkdir, of rmdir). An rmdir errno of None means success, since the service did revoke
# and the driver reads nothing from the answer's body.
FAULTS = {
    "delay": (dict(kind="delay", seconds=TIMEOUT + 1), False, errno.ETIMEDOUT, errno.ETIMEDOUT,
              errno.ETIMEDOUT),
    "drop": (dict(kind="drop"), True, errno.EIO, errno.EIO, errno.EIO),
    "reset": (dict(kind="reset"), False, errno.EIO, errno.EIO, errno.EIO),
    "cut": (dict(kind="cut"), True, errno.EIO, errno.EIO, errno.EIO),
    "500": (dict(kind="status", status=500), False, errno.EIO, errno.EIO, errno.EIO),
    "502": (dict(kind="status", status=502), False, errno.EIO, errno.EIO, errno.EIO),
    "429": (dict(kind="status", status=429), False, errno.EAGAIN, errno.EAGAIN, errno.EAGAIN),
    "403-rate-limit": (dict(kind="status", status=403, message="rate limit exceeded",
                            headers=rate_limited), False, errno.EAGAIN, errno.EAGAIN,
                       errno.EAGAIN),
    "401": (dict(kind="status", status=401, message="wrong authorization token"), False,
            errno.EACCES, errno.EACCES, errno.EACCES),
    "not-json": (dict(kind="body", body=NOT_JSON), True, errno.EIO, errno.EIO, None),
    "wrong-shape": (dict(kind="body", body=WRONG_SHAPE), True, errno.EIO, errno.EIO, None),
    "huge": (dict(kind="huge"), True, errno.EIO, errno.EIO, errno.EIO),
}
# Faults whose lost answer the driver retries with the same request (the Idempotency-Key).
RETRIED = {"drop", "cut"}
# Faults that leave a create's outcome unknown: the driver sends it again in the background until
# the service answers, and revokes what it made; the longest pause between two tries is 8 s.
SETTLED = {"delay", "drop", "reset", "cut", "500", "502", "not-json", "wrong-shape", "huge"}
SETTLE_BOUND = 20


def fault_params(fault):
    params = dict(FAULTS[fault][0])
    if callable(params.get("headers")):
        params["headers"] = params["headers"]()
    return params


@pytest.fixture
def faulted(proxy, mount_factory, tokend):
    """A mount through the proxy, with its listing and its own jwt.txt read once."""
    mount = mount_factory(list_ttl=LIST_TTL, origin=False,
                          options=[f"timeout={TIMEOUT}", f"origin={proxy.url}"])
    mount.expect(r"^rerobotsfs: ")
    mount.api = Api(tokend.url, mount.token)
    mount.listing = sorted(os.listdir(mount.path))
    mount.stat = os.stat(mount.path / mount.id)
    mount.text = (mount.path / mount.id / "jwt.txt").read_text()
    return mount


def timed(call):
    """(result or OSError, seconds taken)."""
    started = time.monotonic()
    try:
        result = call()
    except OSError as error:
        result = error
    return result, time.monotonic() - started


def service_ids(mount):
    status, body = mount.api.call("GET", "/tokens")
    assert status == 200
    return {token["id"] for token in body["tokens"]}


def assert_outcome(result, took, expected_errno, expected_value, limit=TIMEOUT + 1):
    assert took < limit
    if expected_errno is None:
        assert not isinstance(result, OSError), result
        assert result == expected_value
    else:
        assert isinstance(result, OSError), f"succeeded with {result!r}"
        assert result.errno == expected_errno, os.strerror(result.errno)


def assert_works_again(mount, proxy):
    """The fault lifted: the mount is alive and ls, mkdir, cat and rmdir do their job."""
    proxy.clear()
    assert mount.process.poll() is None and is_mounted(mount.path)
    assert wait_until(lambda: set(os.listdir(mount.path)) == service_ids(mount),
                      RATE_LIMIT_RESET + STALE + 1)
    before = service_ids(mount)
    os.mkdir(mount.path / "1h")
    (made,) = service_ids(mount) - before
    assert made in os.listdir(mount.path)
    status, body = mount.api.call("GET", "/token/" + made)
    assert status == 200
    assert (mount.path / made / "jwt.txt").read_text() == body["token"] + "\n"
    os.rmdir(mount.path / made)
    assert made not in service_ids(mount)
    assert made not in os.listdir(mount.path)


def read_case(fault, mount, proxy, operation):
    time.sleep(STALE)
    proxy.set_fault(method="GET", **fault_params(fault))
    result, took = timed(operation)
    assert proxy.faulted() >= 1
    return result, took


@pytest.mark.parametrize("fault", FAULTS)
def test_ls_answers_from_cache(fault, faulted, proxy):
    result, took = read_case(fault, faulted, proxy, lambda: sorted(os.listdir(faulted.path)))
    assert_outcome(result, took, None, faulted.listing)
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_stat_answers_from_cache(fault, faulted, proxy):
    def stat():
        st = os.stat(faulted.path / faulted.id)
        return st.st_mode, st.st_mtime

    result, took = read_case(fault, faulted, proxy, stat)
    assert_outcome(result, took, None, (faulted.stat.st_mode, faulted.stat.st_mtime))
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_cat_of_a_read_token_answers_from_cache(fault, faulted, proxy):
    result, took = read_case(
        fault, faulted, proxy, lambda: (faulted.path / faulted.id / "jwt.txt").read_text())
    assert_outcome(result, took, None, faulted.text)
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_cat_of_a_token_never_read_gets_the_errno(fault, faulted, proxy):
    status, body = faulted.api.call("POST", "/tokens", {"duration": 3600})
    assert status == 201
    assert wait_until(lambda: body["id"] in os.listdir(faulted.path), STALE + 1)
    result, took = read_case(
        fault, faulted, proxy, lambda: (faulted.path / body["id"] / "jwt.txt").read_text())
    # The lookup waits for the listing, then the read for the text: two requests at most.
    assert_outcome(result, took, FAULTS[fault][2], None, limit=2 * TIMEOUT + 1)
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_mkdir_fails_and_leaves_no_token(fault, faulted, proxy):
    _, reaches_service, _, expected, _ = FAULTS[fault]
    before = service_ids(faulted)
    proxy.set_fault(method="POST", path="/tokens", **fault_params(fault))
    result, took = timed(lambda: os.mkdir(faulted.path / "1h"))
    assert_outcome(result, took, expected, None)
    assert proxy.faulted() >= (2 if fault in RETRIED else 1)
    if reaches_service:
        # One request reached the service, or several with one Idempotency-Key: one token.
        assert len(service_ids(faulted) - before) == 1
    proxy.clear()
    if fault in SETTLED:
        # Sent again until the service answers, and what it made revoked.
        assert wait_until(lambda: any("mkdir: revoked token" in line
                                      for line in faulted.stderr_lines()), SETTLE_BOUND)
    assert service_ids(faulted) - before == set()
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_rmdir(fault, faulted, proxy):
    _, reaches_service, _, _, expected = FAULTS[fault]
    status, body = faulted.api.call("POST", "/tokens", {"duration": 3600})
    assert status == 201
    target = body["id"]
    time.sleep(STALE)
    proxy.set_fault(method="POST", path="/revoke/", **fault_params(fault))
    result, took = timed(lambda: os.rmdir(faulted.path / target))
    assert_outcome(result, took, expected, None)
    assert proxy.faulted() >= 1
    assert (target in service_ids(faulted)) == (not reaches_service)
    assert_works_again(faulted, proxy)


def test_a_lost_answer_to_mkdir_is_retried_into_the_same_token(faulted, proxy):
    before = service_ids(faulted)
    proxy.set_fault("drop", method="POST", path="/tokens", times=1)
    os.mkdir(faulted.path / "1h")
    assert proxy.count("POST", "/tokens") == 2
    (made,) = service_ids(faulted) - before
    assert made in os.listdir(faulted.path)
    assert token_id((faulted.path / made / "jwt.txt").read_text().strip()) == made


def test_a_server_that_asks_for_quiet_gets_it_from_reads(faulted, proxy):
    quiet = 3
    time.sleep(STALE)
    proxy.set_fault("status", method="GET", status=429, headers=(("Retry-After", str(quiet)),))
    assert sorted(os.listdir(faulted.path)) == faulted.listing
    asked = proxy.count("GET", "/tokens")
    deadline = time.monotonic() + quiet - 0.5
    while time.monotonic() < deadline:
        assert sorted(os.listdir(faulted.path)) == faulted.listing
        assert (faulted.path / faulted.id / "jwt.txt").read_text() == faulted.text
        time.sleep(0.2)
    assert proxy.count("GET", "/tokens") == asked
    assert_works_again(faulted, proxy)


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(faulted, proxy):
    time.sleep(STALE)
    proxy.set_fault("status", method="GET", status=502)
    for _ in range(4):
        assert sorted(os.listdir(faulted.path)) == faulted.listing
        time.sleep(STALE)
    assert proxy.faulted() >= 3
    assert_works_again(faulted, proxy)
    lines = faulted.stderr_lines()
    assert len([line for line in lines if "serving cached data" in line]) == 1
    assert len([line for line in lines if "answers again" in line]) == 1
