"""The command line, the token's sources and the check before mounting (rerobotsfs(1))."""

import os
import signal
import subprocess

import pytest

from fsutil import Api, mount_entry, token_id, wait_until, write_token_file
from mountutil import is_mounted

OPTIONS = ["origin=", "token_file=", "timeout=", "list_ttl=", "cafile=", "insecure", "-o renew"]


def one_line(result):
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_help_lists_every_option(driver):
    result = subprocess.run([str(driver), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in OPTIONS + ["allow_other", "-f", "-s"]:
        assert option in result.stdout, option


def test_version(driver):
    result = subprocess.run([str(driver), "-V"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "rerobotsfs version" in result.stdout


def test_the_mount_names_its_type_and_origin(mount, tokend):
    fstype, source, options = mount_entry(mount.path)
    assert fstype == "fuse.rerobotsfs"
    assert source == tokend.url


def test_fstab_words_are_accepted(mount_factory):
    mount = mount_factory(options=["_netdev", "noauto", "nofail", "users"])
    assert os.listdir(mount.path) == [mount.id]


def test_allow_other_turns_on_default_permissions(mount_factory):
    mount = mount_factory(options=["allow_other"])
    options = mount_entry(mount.path)[2].split(",")
    assert "allow_other" in options and "default_permissions" in options


def test_a_token_file_others_can_read_is_refused(run_driver, tokend, tmp_path):
    token_file = write_token_file(tmp_path / "jwt.txt", tokend.add_user("alice"), mode=0o644)
    result = run_driver("-o", f"origin={tokend.url},token_file={token_file}")
    assert result.returncode != 0
    line = one_line(result)
    assert str(token_file) in line and "chmod 600" in line
    assert tokend.requests() == []


def test_a_token_file_open_to_the_group_names_what_is_open(run_driver, tokend, tmp_path):
    token_file = write_token_file(tmp_path / "jwt.txt", tokend.add_user("alice"), mode=0o610)
    result = run_driver("-o", f"origin={tokend.url},token_file={token_file}")
    assert result.returncode != 0
    line = one_line(result)
    assert "executable" in line and "writable" not in line and "chmod 600" in line


def test_a_token_file_that_is_a_fifo_is_refused_without_blocking(run_driver, tokend, tmp_path):
    fifo = tmp_path / "jwt.txt"
    os.mkfifo(fifo, 0o600)
    result = run_driver("-o", f"origin={tokend.url},token_file={fifo}")
    assert result.returncode != 0
    assert "not a regular file" in one_line(result)
    assert tokend.requests() == []


@pytest.mark.parametrize("extra", ["\r\nX-Injected: yes", "\nX-Injected: yes", " tail", "\x00"])
def test_a_token_file_holding_more_than_a_jwt_is_refused(run_driver, tokend, tmp_path, extra):
    token = tokend.add_user("alice")
    token_file = write_token_file(tmp_path / "jwt.txt", token + extra)
    result = run_driver("-o", f"origin={tokend.url},token_file={token_file}")
    assert result.returncode != 0
    line = one_line(result)
    assert str(token_file) in line and "does not hold a token" in line
    assert token not in result.stderr
    assert tokend.requests() == []


def test_an_environment_token_holding_more_than_a_jwt_is_refused(run_driver, tokend):
    token = tokend.add_user("alice")
    env = dict(os.environ, REROBOTS_API_TOKEN=token + "\r\nX-Injected: yes")
    result = run_driver("-o", f"origin={tokend.url}", env=env)
    assert result.returncode != 0
    assert "$REROBOTS_API_TOKEN does not hold a token" in one_line(result)
    assert token not in result.stderr
    assert tokend.requests() == []


def test_a_token_is_never_taken_on_the_command_line(run_driver, tokend):
    token = tokend.add_user("alice")
    result = run_driver("-o", f"origin={tokend.url},token={token}")
    assert result.returncode != 0
    assert "token_file" in one_line(result)
    assert token not in result.stderr


def test_a_list_ttl_above_30_is_refused(run_driver, tokend, tmp_path):
    token_file = write_token_file(tmp_path / "jwt.txt", tokend.add_user("alice"))
    result = run_driver("-o", f"origin={tokend.url},token_file={token_file},list_ttl=31")
    assert result.returncode != 0
    assert "list_ttl" in one_line(result)


def test_a_revoked_token_mounts_nothing(run_driver, tokend, tmp_path):
    token = tokend.add_user("alice")
    assert Api(tokend.url, token).call("POST", "/revoke/" + token_id(token))[0] == 200
    token_file = write_token_file(tmp_path / "jwt.txt", token)
    result = run_driver("-o", f"origin={tokend.url},token_file={token_file}")
    assert result.returncode != 0
    assert "rejected the token" in one_line(result)
    assert token not in result.stderr


def test_a_garbage_token_mounts_nothing(run_driver, tokend, tmp_path):
    token_file = write_token_file(tmp_path / "jwt.txt", "garbage.garbage.garbage")
    result = run_driver("-o", f"origin={tokend.url},token_file={token_file}")
    assert result.returncode != 0
    assert "rejected the token" in one_line(result)


def test_a_stopped_service_mounts_nothing(run_driver, tokend, tmp_path):
    token_file = write_token_file(tmp_path / "jwt.txt", tokend.add_user("alice"))
    url = tokend.url
    tokend.stop()
    result = run_driver("-o", f"origin={url},token_file={token_file}")
    assert result.returncode != 0
    line = one_line(result)
    assert "cannot reach" in line and url in line


NOT_THE_API = "does not serve the rerobots token API"


def assert_says_not_the_api(line, origin, status):
    assert f"{origin} {NOT_THE_API}: GET /tokens answered HTTP {status}: " in line
    assert "docs/openapi.yaml" in line and "scripts/conformance" in line


def test_a_web_server_that_is_not_the_api_mounts_nothing_and_says_so(
    run_driver, tokend, plain_http_server, tmp_path
):
    token = tokend.add_user("alice")
    token_file = write_token_file(tmp_path / "jwt.txt", token)
    result = run_driver("-o", f"origin={plain_http_server.url},token_file={token_file}")
    assert result.returncode != 0
    line = one_line(result)
    assert_says_not_the_api(line, plain_http_server.url, 404)
    assert token not in result.stderr


def test_a_json_404_to_the_listing_says_the_url_does_not_serve_the_api(run_driver, tokend, tmp_path):
    # A rerobots-tokend under a path it does not have answers every call with
    # a JSON 404, as an API without the listing call does.
    token_file = write_token_file(tmp_path / "jwt.txt", tokend.add_user("alice"))
    origin = tokend.url + "/v1"
    result = run_driver("-o", f"origin={origin},token_file={token_file}")
    assert result.returncode != 0
    line = one_line(result)
    assert_says_not_the_api(line, origin, 404)
    assert line.split("HTTP 404: ")[1].startswith("no such path;")
    # The service logs a path it does not know as redacted: it may hold a token.
    assert tokend.requests("GET", "/[redacted]")


def test_a_listing_that_is_not_json_mounts_nothing_and_says_so(
    run_driver, tokend, plain_http_server, tmp_path
):
    (plain_http_server.directory / "tokens").write_text("<html><body>tokens</body></html>\n")
    token_file = write_token_file(tmp_path / "jwt.txt", tokend.add_user("alice"))
    result = run_driver("-o", f"origin={plain_http_server.url},token_file={token_file}")
    assert result.returncode != 0
    line = one_line(result)
    assert_says_not_the_api(line, plain_http_server.url, 200)
    assert "not JSON" in line or "not a JSON object" in line


def test_environment_variables_give_origin_and_token(mount_factory, tokend):
    token = tokend.add_user("alice")
    env = dict(os.environ, REROBOTS_ORIGIN=tokend.url, REROBOTS_API_TOKEN=token)
    mount = mount_factory(token=token, env=env, token_file=False, origin=False)
    assert mount_entry(mount.path)[1] == tokend.url
    assert os.listdir(mount.path) == [mount.id]
    with open(f"/proc/{mount.process.pid}/environ", "rb") as environ:
        assert token.encode() not in environ.read()


def test_a_token_file_wins_over_the_environment(mount_factory, tokend):
    env = dict(os.environ, REROBOTS_API_TOKEN="garbage")
    mount = mount_factory(env=env)
    assert os.listdir(mount.path) == [mount.id]


def test_the_token_never_shows_in_logs_or_the_command_line(mount, tokend):
    mount.expect(r"^rerobotsfs: ")
    os.mkdir(mount.path / "24h")
    for name in ["24", "x"]:
        try:
            os.mkdir(mount.path / name)
        except OSError:
            pass
    with open(f"/proc/{mount.process.pid}/cmdline", "rb") as cmdline:
        assert mount.token.encode() not in cmdline.read()
    assert mount.token not in "\n".join(mount.stderr_lines())
    assert not any(line.startswith("rerobots-tokend:") and mount.token in line
                   for line in tokend.log_lines())


def test_the_default_token_file_is_in_home(mount_factory, tokend, tmp_path):
    token = tokend.add_user("alice")
    home = tmp_path / "home"
    (home / ".rerobots").mkdir(parents=True)
    write_token_file(home / ".rerobots" / "jwt.txt", token)
    env = {key: value for key, value in os.environ.items() if key != "REROBOTS_API_TOKEN"}
    mount = mount_factory(token=token, env=dict(env, HOME=str(home)), token_file=False)
    assert os.listdir(mount.path) == [mount.id]


def test_mount_fuse3_mounts_an_fstab_line(driver, tokend, tmp_path):
    # The fstab line `URL MOUNTPOINT fuse.rerobotsfs token_file=...,_netdev 0 0`, as mount(8)
    # hands it to mount.fuse3, which runs `rerobotsfs URL MOUNTPOINT -o ...` in the background.
    token = tokend.add_user("alice")
    token_file = write_token_file(tmp_path / "jwt.txt", token)
    mountpoint = tmp_path / "fstab"
    mountpoint.mkdir()
    env = dict(os.environ, PATH=f"{driver.parent}:{os.environ['PATH']}")
    result = subprocess.run(
        ["/sbin/mount.fuse3", tokend.url, str(mountpoint), "-t", "rerobotsfs",
         "-o", f"token_file={token_file},_netdev,noauto,nofail"],
        capture_output=True, text=True, env=env, timeout=15,
    )
    try:
        assert result.returncode == 0, result.stderr
        assert mount_entry(mountpoint)[:2] == ("fuse.rerobotsfs", tokend.url)
        assert os.listdir(mountpoint) == [token_id(token)]
    finally:
        subprocess.run(["fusermount3", "-u", str(mountpoint)])
    assert mount_entry(mountpoint) is None


def test_single_threaded_with_s(mount_factory):
    mount = mount_factory(flags=["-s"], list_ttl=30)
    os.mkdir(mount.path / "2s")
    (token,) = set(os.listdir(mount.path)) - {mount.id}
    assert (mount.path / token / "jwt.txt").read_text().endswith("\n")
    # The notification thread must not wait on the one request thread.
    assert wait_until(lambda: os.listdir(mount.path) == [mount.id], 4)


def test_sigterm_unmounts_and_exits_0(mount):
    mount.process.send_signal(signal.SIGTERM)
    assert mount.process.wait(timeout=10) == 0
    assert not is_mounted(mount.path)


def test_only_the_main_thread_takes_sigterm(mount):
    # libfuse ends its loop only when the signal interrupts the main thread;
    # a helper thread that took SIGTERM would leave the mount running.
    os.listdir(mount.path)
    tasks = sorted(int(task) for task in os.listdir(f"/proc/{mount.process.pid}/task"))
    assert len(tasks) > 1
    for task in tasks:
        if task == mount.process.pid:
            continue
        with open(f"/proc/{mount.process.pid}/task/{task}/status") as status:
            blocked = next(int(line.split()[1], 16) for line in status if line.startswith("SigBlk:"))
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            assert blocked & (1 << (sig - 1)), f"thread {task} can take {sig.name}"


def test_a_mount_point_with_a_rerobotsfs_mount_is_refused(mount, driver, tokend, tmp_path):
    token_file = write_token_file(tmp_path / "second.txt", tokend.add_user("alice"))
    mounts_before = open("/proc/self/mountinfo").read().count(f" {mount.path} ")
    requests_before = len(tokend.requests())
    try:
        result = subprocess.run(
            [str(driver), "-f", "-o", f"origin={tokend.url},token_file={token_file}",
             str(mount.path)],
            capture_output=True, text=True, timeout=5,
        )
    except subprocess.TimeoutExpired:
        subprocess.run(["fusermount3", "-u", str(mount.path)])
        raise AssertionError("a second rerobotsfs mounted over the first")
    assert result.returncode != 0
    line = one_line(result)
    assert str(mount.path) in line and "fusermount3 -u" in line
    assert open("/proc/self/mountinfo").read().count(f" {mount.path} ") == mounts_before
    assert len(tokend.requests()) == requests_before
    assert os.listdir(mount.path) == [mount.id]
