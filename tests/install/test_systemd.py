"""The systemd units: they pass `systemd-analyze verify`; the user unit's commands mount and
unmount, the service's unit is hardened.

No user manager runs here, so the second test does what systemd does with
the unit: it expands the specifiers, runs the ExecStartPre= and ExecStart=
lines in order (Type=forking: the start command returns once mounted), and
stops the service with SIGTERM.
"""

import hashlib
import os
import re
import shlex
import signal
import subprocess
import time

import pytest

from installutil import PREFIX, require_tool, run
from mountutil import driver_pids, is_mounted

UNIT = "lib/systemd/user/rerobotsfs@.service"
SERVICE_UNIT = "lib/systemd/system/rerobots-tokend.service"
INSTANCE = "mnt-rerobots"
TIMEOUT = 10


def require_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: the test bind-mounts the installed tree over /usr/local")


def analyze_verify(installed, tmp_path, unit, *scope):
    require_root()
    require_tool("systemd-analyze", "systemd")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    # In a mount namespace of its own the installed tree is /usr/local, so verify finds the
    # program of ExecStart= and the man page of Documentation= where the unit says they are.
    script = 'mount --bind "$1" "$2" && shift 2 && exec systemd-analyze "$@"'
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
         installed.prefix, PREFIX, *scope, "verify", f"{PREFIX}/{unit}"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime),
             "PATH": f"{PREFIX}/bin:/usr/bin:/bin"},
    )


def test_user_unit_passes_systemd_analyze_verify(installed, tmp_path):
    result = analyze_verify(installed, tmp_path, UNIT, "--user")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_service_unit_passes_systemd_analyze_verify(installed, tmp_path):
    result = analyze_verify(installed, tmp_path, SERVICE_UNIT)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_service_unit_runs_the_service_as_its_own_user_in_a_read_only_system(installed):
    settings = dict(re.findall(r"^(\w+)=(.*)$", (installed.prefix / SERVICE_UNIT).read_text(),
                               re.MULTILINE))
    assert settings["ExecStart"].startswith(f"{PREFIX}/sbin/rerobots-tokend ")
    assert settings["User"] == "rerobots-tokend"
    assert settings["ProtectSystem"] == "strict"
    assert settings["StateDirectory"] == "rerobots-tokend"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["CapabilityBoundingSet"] == ""
    assert settings["ProtectHome"] == "yes"


def unit_commands(text, home, instance):
    """The [Service] section's ExecStartPre= and ExecStart= lines as (ignore_failure, argv)."""
    specifiers = {"%h": str(home), "%I": instance.replace("-", "/"), "%i": instance, "%%": "%"}
    commands = []
    for key, value in re.findall(r"^(ExecStartPre|ExecStart)=(.*)$", text, re.MULTILINE):
        ignore_failure = value.startswith("-")
        expanded = re.sub(r"%.", lambda match: specifiers[match.group(0)], value.lstrip("-"))
        commands.append((key, ignore_failure, shlex.split(expanded)))
    return commands


def test_user_unit_mounts_at_start_and_unmounts_at_stop(installed, tokend, tmp_path):
    home = tmp_path / "home"
    (home / ".rerobots").mkdir(parents=True)
    token = tokend.add_user("alice")
    token_file = home / ".rerobots/jwt.txt"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    mountpoint = home / "mnt/rerobots"
    env = {**os.environ, "HOME": str(home), "REROBOTS_ORIGIN": tokend.url}
    commands = unit_commands((installed.prefix / UNIT).read_text(), home, INSTANCE)
    assert [key for key, _, _ in commands][-1] == "ExecStart"
    for key, ignore_failure, argv in commands:
        if argv[0] == f"{PREFIX}/bin/rerobotsfs":
            argv[0] = str(installed.prefix / "bin/rerobotsfs")
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=TIMEOUT)
        assert ignore_failure or result.returncode == 0, f"{key}={argv}: {result.stderr}"
    try:
        assert is_mounted(mountpoint)
        assert os.listdir(mountpoint) == [hashlib.sha256(token.encode()).hexdigest()]
        pids = driver_pids(mountpoint)
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGTERM)
        deadline = time.monotonic() + TIMEOUT
        while (is_mounted(mountpoint) or driver_pids(mountpoint)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_mounted(mountpoint)
        assert driver_pids(mountpoint) == []
    finally:
        if is_mounted(mountpoint):
            subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)])
