"""rerobotsfs(1), Everything else: every other change fails with EPERM, EACCES or EROFS and changes nothing."""

import errno
import mmap
import os
import subprocess

import pytest

from fsutil import settled_requests, wait_until

REFUSED = (errno.EPERM, errno.EACCES, errno.EROFS)


def write_through(path, flags):
    """Opens path with flags, which the kernel grants without asking the driver, and writes."""
    fd = os.open(path, flags)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)


def snapshot(mount):
    """Everything a change could touch: names, modes, sizes, times and contents."""
    state = {}
    for directory in [mount.path, *(mount.path / name for name in os.listdir(mount.path))]:
        st = os.stat(directory)
        state[str(directory)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime)
    for name in os.listdir(mount.path / mount.id):
        path = mount.path / mount.id / name
        st = os.stat(path)
        state[str(path)] = (st.st_mode, st.st_size, st.st_mtime, path.read_bytes())
    return state


def test_changes_fail_and_change_nothing(mount, tokend, tmp_path):
    token_dir = mount.path / mount.id
    jwt = token_dir / "jwt.txt"
    created = token_dir / "created"
    outside = tmp_path / "outside"
    outside.write_text("x")
    attempts = {
        "write jwt.txt": lambda: open(jwt, "w"),
        "append to created": lambda: write_through(created, os.O_WRONLY | os.O_APPEND),
        "write read-write": lambda: write_through(jwt, os.O_RDWR),
        "truncate": lambda: os.truncate(created, 0),
        "chmod": lambda: os.chmod(jwt, 0o644),
        "chown": lambda: os.chown(jwt, 1000, 1000),
        "utime": lambda: os.utime(created, (0, 0)),
        "rename a file": lambda: os.rename(created, token_dir / "renamed"),
        "rename a token": lambda: os.rename(token_dir, mount.path / ("1" * 64)),
        "link": lambda: os.link(jwt, token_dir / "link"),
        "symlink in root": lambda: os.symlink("/etc/passwd", mount.path / "link"),
        "symlink in a token": lambda: os.symlink("jwt.txt", token_dir / "link"),
        "create in root": lambda: open(mount.path / "notes.txt", "w"),
        "create in a token": lambda: open(token_dir / "notes.txt", "w"),
        "mkfifo": lambda: os.mkfifo(token_dir / "fifo"),
        "setxattr": lambda: os.setxattr(jwt, "user.comment", b"x"),
        "removexattr": lambda: os.removexattr(jwt, "user.comment"),
    }
    before = snapshot(mount)
    requests = len(settled_requests(tokend))
    for what, attempt in attempts.items():
        with pytest.raises(OSError) as failure:
            attempt()
        assert failure.value.errno in REFUSED, f"{what}: {failure.value}"
    for command in (["touch", str(jwt)], ["cp", str(outside), str(token_dir)],
                    ["sh", "-c", f"echo x > {created}"]):
        assert subprocess.run(command, capture_output=True).returncode != 0, command
    assert snapshot(mount) == before
    assert len(settled_requests(tokend)) == requests
    assert sorted(os.listdir(token_dir)) == ["created", "expires", "jwt.txt"]


def test_a_write_through_a_shared_mapping_is_undone(mount, tokend):
    """The mapping's bytes reach the kernel's page cache before the driver can refuse them."""
    jwt = mount.path / mount.id / "jwt.txt"
    text = jwt.read_bytes()
    requests = len(settled_requests(tokend))
    fd = os.open(jwt, os.O_RDWR)
    try:
        with mmap.mmap(fd, len(text)) as mapping:
            mapping[:3] = b"xxx"
            with pytest.raises(OSError) as failure:
                mapping.flush()
    finally:
        os.close(fd)
    assert failure.value.errno in REFUSED + (errno.EIO,)
    assert wait_until(lambda: jwt.read_bytes() == text, 2), jwt.read_bytes()[:3]
    assert len(settled_requests(tokend)) == requests
