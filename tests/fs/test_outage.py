"""SPEC 2.5: a service that stops or hangs after mounting gives errors or cached answers, never a hang."""

import errno
import os
import signal
import threading
import time

import pytest

TIMEOUT = 2


@pytest.fixture
def paused(tokend):
    """pause() stops the service's process with SIGSTOP: connections are accepted, never answered."""
    stopped = []

    def pause():
        os.kill(tokend.process.pid, signal.SIGSTOP)
        stopped.append(tokend.process.pid)

    yield pause
    for pid in stopped:
        os.kill(pid, signal.SIGCONT)


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
