"""What the service trusts in its data directory: it refuses what others could write or read,
and never writes through a symbolic link."""

import hashlib
import os
import subprocess
import time

import pytest


def run_tokend(build_dir, data, *arguments):
    return subprocess.run([build_dir / "rerobots-tokend", "--data", data, *arguments],
                          capture_output=True, text=True, timeout=30)


def add_user(build_dir, data):
    return run_tokend(build_dir, data, "--add-user", "alice")


def assert_refused(result, fix):
    """Exit 1, no token printed, one line saying how to fix it."""
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rerobots-tokend: "), result.stderr
    assert fix in lines[0]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def outside(tmp_path):
    """A directory others may read, outside the data directory."""
    path = tmp_path / "outside"
    path.mkdir()
    path.chmod(0o755)
    return path


def test_signing_key_planted_as_a_symlink_is_refused(build_dir, tmp_path, outside):
    key = outside / "their-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", key], check=True,
                   capture_output=True)
    key.chmod(0o600)
    before = digest(key)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "signing-key.pem").symlink_to(key)
    for arguments in (["--add-user", "alice"], ["--listen", "127.0.0.1:0"]):
        assert_refused(run_tokend(build_dir, data, *arguments), "symbolic link")
    assert digest(key) == before
    assert sorted(os.listdir(data)) == ["signing-key.pem"]


def test_a_symlink_planted_at_the_temporary_key_name_receives_nothing(build_dir, tmp_path, outside):
    """The key was first written to DIR/.signing-key.pem.PID, a name anyone could plant a link at."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    readable = outside / "readable.txt"
    readable.write_text("")
    readable.chmod(0o644)
    process = subprocess.Popen([build_dir / "rerobots-tokend", "--data", data, "--add-user", "alice"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Planted while the service generates its RSA key, before it writes it.
    (data / f".signing-key.pem.{process.pid}").symlink_to(readable)
    stdout, stderr = process.communicate(timeout=30)
    assert readable.read_text() == ""
    assert process.returncode == 0, stderr
    assert "PRIVATE KEY" in (data / "signing-key.pem").read_text()
    assert (data / "signing-key.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o770, 0o702, 0o777], ids=oct)
def test_data_directory_others_can_write_is_refused_and_left_empty(build_dir, tmp_path, mode):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(mode)
    assert_refused(add_user(build_dir, data), f"chmod go-w {data}")
    assert os.listdir(data) == []


@pytest.mark.parametrize("mode", [0o775, 0o757], ids=oct)
def test_a_parent_directory_others_can_write_is_refused_unless_sticky(build_dir, tmp_path, mode):
    parent = tmp_path / "shared"
    parent.mkdir()
    parent.chmod(mode)
    assert_refused(add_user(build_dir, parent / "data"), f"chmod go-w {parent}")
    assert os.listdir(parent) == []
    # Further up is no better: the parent's entry could be swapped as well.
    (parent / "private").mkdir(mode=0o700)
    assert_refused(add_user(build_dir, parent / "private" / "data"), f"chmod go-w {parent}")
    assert os.listdir(parent / "private") == []
    # With the sticky bit (as /tmp has), others cannot rename what is ours in it.
    parent.chmod(mode | 0o1000)
    assert add_user(build_dir, parent / "data").returncode == 0


@pytest.mark.parametrize("name", ["tokens.db", "signing-key.pem", "tokens.db-wal"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_a_file_others_can_read_or_write_is_refused_and_left_as_it_was(build_dir, tmp_path, name, mode):
    data = tmp_path / "data"
    assert add_user(build_dir, data).returncode == 0
    path = data / name
    if not path.exists():
        path.write_bytes(b"")
    path.chmod(mode)
    files = {child.name: (digest(child), child.stat().st_mtime_ns) for child in data.iterdir()}
    for arguments in (["--add-user", "alice"], ["--listen", "127.0.0.1:0"]):
        assert_refused(run_tokend(build_dir, data, *arguments), f"chmod 600 {path}")
    assert {child.name: (digest(child), child.stat().st_mtime_ns) for child in data.iterdir()} == files


def test_database_planted_as_a_symlink_is_refused(build_dir, tmp_path, outside):
    database = outside / "tokens.db"
    database.write_bytes(b"")
    database.chmod(0o600)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "tokens.db").symlink_to(database)
    assert_refused(add_user(build_dir, data), "symbolic link")
    assert database.read_bytes() == b""


def test_a_fifo_in_the_data_directory_is_refused_without_blocking(build_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.mkfifo(data / "tokens.db", 0o600)
    started = time.monotonic()
    assert_refused(add_user(build_dir, data), "not a regular file")
    assert time.monotonic() - started < 10
