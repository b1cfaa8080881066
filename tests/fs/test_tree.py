"""rerobotsfs(1), THE TREE: the tree, its modes, owner, sizes and times; names that cannot be tokens."""

import ctypes
import os
import re
import stat
import struct
import subprocess
from datetime import datetime, timezone

import pytest

from fsutil import LIST_TTL, settled_requests, token_id, wait_until

SYS_GETDENTS64 = 217  # x86_64

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$")

# What shells, desktops and file managers look for in every directory they open.
PROBE_NAMES = [
    ".hidden", ".Trash", ".Trash-0", ".Trash-1000", "autorun.inf", "AutoRun.inf",
    "desktop.ini", "Desktop.ini", "folder.jpg", "folder.png", ".directory",
    ".xdg-volume-info", ".DS_Store", "Thumbs.db", ".git", ".svn", "HEAD",
    ".envrc", "Untitled Folder", "New Folder",
]


def parse_utc(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ\n").replace(tzinfo=timezone.utc)


def test_root_lists_exactly_the_active_tokens(mount, tokend, api):
    other = tokend.add_user("alice")
    revoked = tokend.add_user("alice")
    assert api.call("POST", "/revoke/" + token_id(revoked))[0] == 200
    tokend.add_user("bob")

    # Tokens made elsewhere show once the listing is checked again, after list_ttl.
    expected = sorted([mount.id, token_id(other)])
    assert wait_until(lambda: sorted(os.listdir(mount.path)) == expected, LIST_TTL + 1)


def test_modes_and_owner(mount):
    root = os.stat(mount.path)
    assert stat.S_ISDIR(root.st_mode) and stat.S_IMODE(root.st_mode) == 0o700
    assert (root.st_uid, root.st_gid) == (os.getuid(), os.getgid())

    directory = os.stat(mount.path / mount.id)
    assert stat.S_ISDIR(directory.st_mode) and stat.S_IMODE(directory.st_mode) == 0o700
    assert directory.st_nlink == 2
    modes = {"jwt.txt": 0o400, "created": 0o444, "expires": 0o444}
    assert sorted(os.listdir(mount.path / mount.id)) == sorted(modes)
    for name, mode in modes.items():
        st = os.stat(mount.path / mount.id / name)
        assert stat.S_ISREG(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == mode, name
        assert (st.st_uid, st.st_gid, st.st_nlink) == (os.getuid(), os.getgid(), 1), name

    listing = subprocess.run(["ls", "-l", str(mount.path / mount.id)], capture_output=True,
                             text=True, check=True).stdout
    assert re.search(r"^-r-------- 1 .* jwt\.txt$", listing, re.M), listing
    assert re.search(r"^-r--r--r-- 1 .* created$", listing, re.M), listing


def test_cp_gives_the_exact_token_text(mount, tmp_path):
    subprocess.run(["cp", str(mount.path / mount.id / "jwt.txt"), str(tmp_path / "copy")],
                   check=True)
    assert (tmp_path / "copy").read_text() == mount.token + "\n"


def test_sizes_are_exact(mount):
    for name in ["jwt.txt", "created", "expires"]:
        path = mount.path / mount.id / name
        counted = subprocess.run(["wc", "-c", str(path)], capture_output=True, text=True,
                                 check=True).stdout.split()[0]
        assert int(counted) == os.stat(path).st_size == len(path.read_bytes()), name


def forced_size(path):
    """The size the daemon itself answers: AT_STATX_FORCE_SYNC passes by the kernel's copy."""
    at_fdcwd, at_statx_force_sync, statx_size = -100, 0x2000, 0x200
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(256)  # struct statx
    assert libc.statx(at_fdcwd, os.fsencode(path), at_statx_force_sync, statx_size,
                      buffer) == 0, os.strerror(ctypes.get_errno())
    size, = struct.unpack_from("Q", buffer.raw, 40)  # stx_size
    return size


def test_a_texts_size_is_exact_before_and_after_it_is_read(mount, api, tokend):
    status, made = api.call("POST", "/tokens", {"duration": 3600})
    assert status == 201
    assert wait_until(lambda: made["id"] in os.listdir(mount.path), LIST_TTL + 2)
    path = mount.path / made["id"] / "jwt.txt"
    assert forced_size(path) == len(made["token"]) + 1
    assert path.read_text() == made["token"] + "\n"
    before = len(settled_requests(tokend))
    for _ in range(100):
        assert forced_size(path) == len(made["token"]) + 1
    assert len(settled_requests(tokend)) == before


def test_created_and_expires_are_utc_and_differ_by_the_duration(mount):
    os.mkdir(mount.path / "1h30m")
    (new,) = set(os.listdir(mount.path)) - {mount.id}
    created = (mount.path / new / "created").read_text()
    expires = (mount.path / new / "expires").read_text()
    assert ISO_UTC.match(created) and ISO_UTC.match(expires), (created, expires)
    assert (parse_utc(expires) - parse_utc(created)).total_seconds() == 5400
    now = datetime.now(timezone.utc)
    assert abs((parse_utc(created) - now).total_seconds()) < 5
    # The directory's times are the token's creation.
    assert os.stat(mount.path / new).st_mtime == parse_utc(created).timestamp()


def test_names_that_cannot_be_tokens_cost_no_request(mount, tokend):
    assert len(PROBE_NAMES) == 20
    os.listdir(mount.path)
    before = len(settled_requests(tokend))
    for _ in range(3):
        for name in PROBE_NAMES:
            with pytest.raises(FileNotFoundError):
                os.stat(mount.path / name)
            with pytest.raises(FileNotFoundError):
                os.stat(mount.path / mount.id / name)
    assert len(settled_requests(tokend)) == before


def test_an_id_that_is_no_active_token_is_enoent(mount):
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / ("0" * 64))
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / ("0" * 64) / "jwt.txt")



def read_directory(fd, size):
    """The names one getdents64 call of size bytes gives on fd: a stream read a little at a time."""
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(size)
    length = libc.syscall(SYS_GETDENTS64, fd, buffer, size)
    assert length >= 0, os.strerror(ctypes.get_errno())
    names = []
    position = 0
    while position < length:
        # struct linux_dirent64: d_ino, d_off, d_reclen, d_type, then the name.
        record_length, = struct.unpack_from("H", buffer.raw, position + 16)
        name = buffer.raw[position + 19:position + record_length].split(b"\0", 1)[0]
        names.append(name.decode())
        position += record_length
    return [name for name in names if name not in (".", "..")]


def test_a_listing_read_across_changes_shows_every_other_token_once(mount, api):
    """A directory stream the kernel reads from the driver goes on from the last id it gave.

    POSIX leaves open whether a token made or revoked during the stream shows;
    every other token shows exactly once.
    """
    for hours in range(1, 61):
        os.mkdir(mount.path / f"{hours}h")
    status, body = api.call("GET", "/tokens")
    assert status == 200
    before = {token["id"] for token in body["tokens"]}
    assert len(before) == 61
    fd = os.open(mount.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        first = read_directory(fd, 1024)
        assert 0 < len(first) < 20
        revoked = sorted(before - set(first))[-1]
        os.mkdir(mount.path / "24h")
        os.rmdir(mount.path / revoked)
        rest = []
        # Far more calls than 62 names take: a stream that starts over fails, not hangs.
        for _ in range(100):
            more = read_directory(fd, 1024)
            if not more:
                break
            rest += more
    finally:
        os.close(fd)
    seen = first + rest
    assert len(seen) == len(set(seen))
    assert set(seen) - {revoked} >= before - {revoked}
    assert len(set(seen) - before) <= 1
