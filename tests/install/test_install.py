"""`meson install`: programs, man pages and contrib files where a system looks for them."""

import stat
import subprocess

from installutil import run


def test_meson_install_puts_every_file_in_its_usual_place(installed):
    expected = {
        "bin/rerobotsfs": 0o755,
        "sbin/rerobots-tokend": 0o755,
        "share/man/man1/rerobotsfs.1": 0o644,
        "share/man/man8/rerobots-tokend.8": 0o644,
        "share/doc/rerobotsfs/examples/fstab": 0o644,
        "share/doc/rerobotsfs/examples/nginx-rerobots-tokend.conf": 0o644,
        "lib/systemd/user/rerobotsfs@.service": 0o644,
        "lib/systemd/system/rerobots-tokend.service": 0o644,
    }
    found = {
        str(path.relative_to(installed.prefix)): stat.S_IMODE(path.stat().st_mode)
        for path in installed.prefix.rglob("*")
        if path.is_file()
    }
    assert found == expected


def test_meson_install_honours_destdir(installed, install_build):
    """Every path meson wrote, as its install log lists them, is under DESTDIR and its prefix."""
    log = (install_build / "meson-logs/install-log.txt").read_text().splitlines()
    written = [line for line in log if not line.startswith("#")]
    assert len(written) >= 6
    outside = [path for path in written
               if path != str(installed.root / "usr") and
               not path.startswith(str(installed.prefix))]
    assert outside == []
    installed_files = [path for path in installed.root.rglob("*") if path.is_file()]
    assert all(installed.prefix in path.parents for path in installed_files)


def test_installed_unit_starts_the_installed_driver(installed):
    unit = (installed.prefix / "lib/systemd/user/rerobotsfs@.service").read_text()
    assert "ExecStart=/usr/local/bin/rerobotsfs %h/%I\n" in unit


def test_installed_programs_run(installed):
    version = run([installed.prefix / "bin/rerobotsfs", "--version"]).stdout
    assert "rerobotsfs version 0.1.0" in version.splitlines()
    usage = subprocess.run([installed.prefix / "sbin/rerobots-tokend", "--help"],
                           capture_output=True, text=True)
    assert usage.returncode == 0 and "--add-user" in usage.stdout
    version = run([installed.prefix / "sbin/rerobots-tokend", "--version"]).stdout
    assert "rerobots-tokend version 0.1.0" in version.splitlines()
