"""scripts/try and scripts/stop, the README's try-out, in a directory of the test's own
($REROBOTS_TRY_DIR and $HOME): one service per try directory, never an orphan, and a stop
that says what to do when the mount is in use."""

import os
import signal
import subprocess
from pathlib import Path

import pytest

from fsutil import wait_until
from mountutil import is_mounted, pids_of

REPO_DIR = Path(__file__).resolve().parent.parent.parent


def services_on(data):
    """The pids of the rerobots-tokend processes serving the data directory data."""
    return pids_of("rerobots-tokend", data)


@pytest.fixture
def try_dir(tmp_path):
    """run(script) runs scripts/SCRIPT with its own HOME and REROBOTS_TRY_DIR; whatever the
    scripts started is stopped at teardown."""
    if not (REPO_DIR / "build" / "rerobotsfs").is_file():
        pytest.skip("scripts/try uses build/: run `meson compile -C build` first")
    state = tmp_path / "try"
    env = dict(os.environ, HOME=str(tmp_path), REROBOTS_TRY_DIR=str(state))

    def run(script):
        return subprocess.run([str(REPO_DIR / "scripts" / script)], env=env,
                              capture_output=True, text=True, timeout=120)

    run.state = state
    yield run
    if is_mounted(state / "mnt"):
        subprocess.run(["fusermount3", "-u", str(state / "mnt")])
    for pid in services_on(state / "data"):
        os.kill(pid, signal.SIGTERM)


def test_try_after_an_unmount_reuses_its_service(try_dir):
    first = try_dir("try")
    assert first.returncode == 0, first.stderr
    (pid,) = services_on(try_dir.state / "data")
    log = (try_dir.state / "tokend.log").read_text()
    subprocess.run(["fusermount3", "-u", str(try_dir.state / "mnt")], check=True)

    second = try_dir("try")
    assert second.returncode == 0, second.stderr
    assert f"reusing rerobots-tokend (pid {pid})" in second.stdout
    assert services_on(try_dir.state / "data") == [pid]
    assert (try_dir.state / "tokend.pid").read_text().strip() == str(pid)
    assert (try_dir.state / "tokend.log").read_text().startswith(log)
    assert is_mounted(try_dir.state / "mnt")
    assert os.listdir(try_dir.state / "mnt")

    stop = try_dir("stop")
    assert stop.returncode == 0, stop.stderr
    assert services_on(try_dir.state / "data") == []
    assert not is_mounted(try_dir.state / "mnt")


def test_stop_says_what_to_do_when_the_mount_is_in_use(try_dir):
    assert try_dir("try").returncode == 0
    mountpoint = try_dir.state / "mnt"
    shell = subprocess.Popen(["sleep", "60"], cwd=mountpoint)
    try:
        busy = try_dir("stop")
    finally:
        shell.kill()
        shell.wait()
    assert busy.returncode != 0
    assert f"fuser -vm {mountpoint}" in busy.stderr and "leave it" in busy.stderr
    # The service stays for the mount that stays.
    assert is_mounted(mountpoint) and services_on(try_dir.state / "data")

    stop = try_dir("stop")
    assert stop.returncode == 0, stop.stderr
    assert not is_mounted(mountpoint)
    assert wait_until(lambda: services_on(try_dir.state / "data") == [], 5)
