"""SPEC 2.5 under every fault: the errno, within the timeout, from cache where cached, no lost token.

Each test mounts rerobotsfs through tests/faultproxy.py, lets the data it
needs go stale, faults the one request its operation makes, and asserts the
system call's errno (or, for a read the service did not answer in time, the
cached answer), that it came back within timeout + 1 s, that the driver is
still mounted and answering, and, once the fault is lifted, that ls, mkdir,
cat and rmdir all work again. A mkdir whose request reached the service
made exactly one token, however often the driver retried it.
"""

import errno
import os
import time

import pytest

from faultproxy import FaultProxy
from fsutil import Api, token_id, wait_until
from mountutil import is_mounted

TIMEOUT = 2
LIST_TTL = 1
# Past the listing's and the kernel's entry lifetime (both list_ttl), so that a call asks the API.
STALE = LIST_TTL + 0.1

RATE_LIMITED = ("X-RateLimit-Limit", "3600"), ("X-RateLimit-Remaining", "0"), \
    ("X-RateLimit-Reset", "2000000000")
NOT_JSON = b"<html><body>502 Bad Gateway</body></html>"
WRONG_SHAPE = b'{"tokens": {"id": 7}, "id": 7, "token": ["x"], "created": "today"}'

# name: (fault parameters, whether the service saw the request, errno of a read, of mkdir, of
# rmdir). A read errno of None means the cached answer; an rmdir errno of None means success,
# since the service did revoke and the driver reads nothing from the answer's body.
FAULTS = {
    "delay": (dict(kind="delay", seconds=TIMEOUT + 1), False, None, errno.ETIMEDOUT,
              errno.ETIMEDOUT),
    "drop": (dict(kind="drop"), True, errno.EIO, errno.EIO, errno.EIO),
    "reset": (dict(kind="reset"), False, errno.EIO, errno.EIO, errno.EIO),
    "cut": (dict(kind="cut"), True, errno.EIO, errno.EIO, errno.EIO),
    "500": (dict(kind="status", status=500), False, errno.EIO, errno.EIO, errno.EIO),
    "502": (dict(kind="status", status=502), False, errno.EIO, errno.EIO, errno.EIO),
    "429": (dict(kind="status", status=429), False, errno.EAGAIN, errno.EAGAIN, errno.EAGAIN),
    "403-rate-limit": (dict(kind="status", status=403, message="rate limit exceeded",
                            headers=RATE_LIMITED), False, errno.EAGAIN, errno.EAGAIN,
                       errno.EAGAIN),
    "401": (dict(kind="status", status=401, message="wrong authorization token"), False,
            errno.EACCES, errno.EACCES, errno.EACCES),
    "not-json": (dict(kind="body", body=NOT_JSON), True, errno.EIO, errno.EIO, None),
    "wrong-shape": (dict(kind="body", body=WRONG_SHAPE), True, errno.EIO, errno.EIO, None),
    "huge": (dict(kind="huge"), True, errno.EIO, errno.EIO, errno.EIO),
}
# Faults whose lost answer the driver retries with the same request (the Idempotency-Key).
RETRIED = {"drop", "cut"}


@pytest.fixture
def proxy(tokend):
    proxy = FaultProxy(tokend.url)
    yield proxy
    proxy.close()


@pytest.fixture
def faulted(mount_factory, tokend, proxy):
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


def assert_outcome(result, took, expected_errno, expected_value):
    assert took < TIMEOUT + 1
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
    assert wait_until(lambda: set(os.listdir(mount.path)) == service_ids(mount), STALE + 1)
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
    params, _, read_errno, _, _ = FAULTS[fault]
    time.sleep(STALE)
    proxy.set_fault(method="GET", **params)
    result, took = timed(operation)
    assert proxy.faulted() >= 1
    return result, took, read_errno


@pytest.mark.parametrize("fault", FAULTS)
def test_ls(fault, faulted, proxy):
    result, took, expected = read_case(fault, faulted, proxy,
                                       lambda: sorted(os.listdir(faulted.path)))
    assert_outcome(result, took, expected, faulted.listing)
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_stat(fault, faulted, proxy):
    def stat():
        st = os.stat(faulted.path / faulted.id)
        return st.st_mode, st.st_mtime

    result, took, expected = read_case(fault, faulted, proxy, stat)
    assert_outcome(result, took, expected, (faulted.stat.st_mode, faulted.stat.st_mtime))
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_cat(fault, faulted, proxy):
    result, took, expected = read_case(
        fault, faulted, proxy, lambda: (faulted.path / faulted.id / "jwt.txt").read_text())
    assert_outcome(result, took, expected, faulted.text)
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_mkdir(fault, faulted, proxy):
    params, reaches_service, _, expected, _ = FAULTS[fault]
    before = service_ids(faulted)
    proxy.set_fault(method="POST", path="/tokens", **params)
    result, took = timed(lambda: os.mkdir(faulted.path / "1h"))
    assert_outcome(result, took, expected, None)
    assert proxy.faulted() >= (2 if fault in RETRIED else 1)
    # One request reached the service, or several with one Idempotency-Key: one token.
    assert len(service_ids(faulted) - before) == (1 if reaches_service else 0)
    assert_works_again(faulted, proxy)


@pytest.mark.parametrize("fault", FAULTS)
def test_rmdir(fault, faulted, proxy):
    params, reaches_service, _, _, expected = FAULTS[fault]
    status, body = faulted.api.call("POST", "/tokens", {"duration": 3600})
    assert status == 201
    target = body["id"]
    time.sleep(STALE)
    proxy.set_fault(method="POST", path="/revoke/", **params)
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
