"""A service that stops or hangs after mounting: errors or cached answers, never a hang, and no token left by a failed mkdir."""

import errno
import os
import signal
import threading
import time

import pytest

from fsutil import Api, wait_until

TIMEOUT = 2
# The longest a failed create is resent before its token is revoked, after the service resumes.
SETTLE_BOUND = 20


@pytest.fixture
def paused(tokend):
    """pause() stops the service's process with SIGSTOP: connections are accepted, never answered.

    pause.resume() lets it go on, as the fixture does at teardown.
    """
    stopped = []

    def pause():
        os.kill(tokend.process.pid, signal.SIGSTOP)
        stopped.append(tokend.process.pid)

    def resume():
        while stopped:
            os.kill(stopped.pop(), signal.SIGCONT)

    pause.resume = resume
    yield pause
    resume()


def timed(call):
    started = time.monotonic()
    try:
        return call(), time.monotonic() - started
    except OSError as error:
        return error, time.monotonic() - started


def test_a_stopped_service_fails_mkdir_and_ls_answers_from_cache(mount_factory, tokend):
    mount = mount_factory(list_ttl=1, options=[f"timeout={TIMEOUT}"])
    mount.expect(r"^rerobotsfs: ")
    listing = sorted(os.listdir(mount.path))
    token = (mount.path / mount.id / "jwt.txt").read_text()
    tokend.stop()
    time.sleep(1.2)

    failure, took = timed(lambda: os.mkdir(mount.path / "24h"))
    assert isinstance(failure, OSError) and failure.errno in (errno.ECONNREFUSED,
                                                              errno.EHOSTUNREACH)
    assert took < TIMEOUT + 1
    answer, took = timed(lambda: sorted(os.listdir(mount.path)))
    assert answer == listing and took < TIMEOUT + 1
    assert (mount.path / mount.id / "jwt.txt").read_text() == token


def test_a_hung_service_times_out_mkdir_and_ls_answers_from_cache(mount_factory, paused):
    mount = mount_factory(list_ttl=1, options=[f"timeout={TIMEOUT}"])
    mount.expect(r"^rerobotsfs: ")
    listing = sorted(os.listdir(mount.path))
    paused()
    time.sleep(1.2)

    failure, took = timed(lambda: os.mkdir(mount.path / "24h"))
    assert isinstance(failure, OSError) and failure.errno == errno.ETIMEDOUT
    assert took < TIMEOUT + 1
    answer, took = timed(lambda: sorted(os.listdir(mount.path)))
    assert answer == listing and took < TIMEOUT + 1


def test_a_mkdir_that_timed_out_leaves_no_token_once_the_service_resumes(mount_factory, tokend,
                                                                        paused):
    mount = mount_factory(list_ttl=1, options=[f"timeout={TIMEOUT}"])
    mount.expect(r"^rerobotsfs: ")
    api = Api(tokend.url, mount.token)
    paused()
    failure, _ = timed(lambda: os.mkdir(mount.path / "24h"))
    assert isinstance(failure, OSError) and failure.errno == errno.ETIMEDOUT
    paused.resume()
    # The service makes the token it was sent before it stopped; the driver revokes it.
    assert wait_until(lambda: any("mkdir: revoked token" in line
                                  for line in mount.stderr_lines()), SETTLE_BOUND)
    status, body = api.call("GET", "/tokens")
    assert status == 200 and [token["id"] for token in body["tokens"]] == [mount.id]
    assert len(tokend.requests("POST", "/tokens")) >= 2
    assert len(tokend.requests("POST", "/revoke/")) == 1


def test_a_slow_request_does_not_block_another(mount_factory, paused):
    mount = mount_factory(list_ttl=30, options=[f"timeout={TIMEOUT}"])
    mount.expect(r"^rerobotsfs: ")
    jwt = mount.path / mount.id / "jwt.txt"
    token = jwt.read_text()
    paused()
    slow = threading.Thread(target=timed, args=(lambda: os.mkdir(mount.path / "24h"),))
    slow.start()
    time.sleep(0.3)
    try:
        assert slow.is_alive()
        answer, took = timed(lambda: open(jwt).read())
        assert answer == token and took < 0.5
    finally:
        slow.join()
