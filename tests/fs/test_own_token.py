"""The mount's own token over time (rerobotsfs(1), THE MOUNT'S TOKEN): rotation after a 401,
-o renew, and the warnings before it expires."""

import errno
import os
import re
import stat
import subprocess
import threading
import time

import pytest

from fsutil import NOBODY, Api, token_id, wait_until, write_token_file

JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
RENEWED = r"renewed the mount's token: "


def renewals(mount):
    return [line for line in mount.stderr_lines() if RENEWED in line]


class TokenFileWatch(threading.Thread):
    """Reads the token file every 50 ms, as a second program of the user would, and checks
    each time that it is 0600, holds one JWT, and that the API takes that token."""

    def __init__(self, path, url):
        super().__init__(daemon=True)
        self.path = path
        self.url = url
        self.seen = []  # every token the file held, in order
        self.problems = []
        self.stopping = threading.Event()

    def read(self):
        mode = stat.S_IMODE(os.stat(self.path).st_mode)
        if mode != 0o600:
            self.problems.append(f"mode {mode:o}")
        text = self.path.read_text()
        if not text.endswith("\n") or not JWT.match(text.strip()):
            self.problems.append(f"not one JWT and a newline ({len(text)} bytes)")
        return text.strip()

    def run(self):
        while not self.stopping.is_set():
            token = self.read()
            if not self.seen or self.seen[-1] != token:
                self.seen.append(token)
            status, _ = Api(self.url, token).call("GET", "/tokens")
            # A renewal may have replaced and revoked it between the read and the call.
            if status != 200 and self.read() == token:
                self.problems.append(f"the file holds a token the API answers {status}")
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join(timeout=15)
        token = self.read()
        if self.seen[-1] != token:
            self.seen.append(token)


class Reader(threading.Thread):
    """Loops on `ls -l` and `cat */jwt.txt` in the mount, keeping every failure."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.rounds = 0
        self.failures = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for command in ("ls -l >/dev/null", "cat */jwt.txt >/dev/null"):
                result = subprocess.run(["sh", "-c", command], cwd=self.path,
                                        capture_output=True, text=True, timeout=30)
                if result.returncode != 0:
                    self.failures.append(f"{command}: {result.stderr.strip()}")
            self.rounds += 1

    def stop(self):
        self.stopping.set()
        self.join(timeout=40)


def test_renew_makes_three_tokens_in_a_row_while_the_mount_is_read(mount_factory, tokend):
    # 9 s tokens: each renewal comes at 6 s, two thirds of the token's life.
    mount = mount_factory(token=tokend.add_user("alice", duration="9s"), options=["renew"],
                          list_ttl=1)
    mount.expect(RENEWED)
    first = mount.token
    os.mkdir(mount.path / "1h")
    watch = TokenFileWatch(mount.token_file, tokend.url)
    reader = Reader(mount.path)
    watch.start()
    reader.start()
    try:
        assert wait_until(lambda: len(renewals(mount)) >= 3, 30), mount.stderr_lines()
    finally:
        reader.stop()
        watch.stop()

    assert reader.failures == [], f"{len(reader.failures)} of {reader.rounds} rounds failed"
    assert reader.rounds > 10
    print(f"{reader.rounds} rounds of ls -l and cat */jwt.txt, no failure")
    assert watch.problems == []
    assert watch.seen[0] == first and len(watch.seen) >= 4
    current = mount.token_file.read_text().strip()
    api = Api(tokend.url, current)
    for old in watch.seen[:-1]:
        assert api.call("GET", "/token/" + token_id(old))[0] == 404
        assert tokend.requests("POST", "/revoke/" + token_id(old))
        assert Api(tokend.url, old).call("GET", "/tokens")[0] == 401
    # The new token is the mount's own: it lists it, and will not revoke it.
    assert wait_until(lambda: token_id(current) in os.listdir(mount.path), 3)
    assert not {token_id(old) for old in watch.seen[:-1]} & set(os.listdir(mount.path))
    with pytest.raises(OSError) as failure:
        os.rmdir(mount.path / token_id(current))
    assert failure.value.errno == errno.EBUSY
    # Each renewal is a token of the same lifetime.
    for line in tokend.requests("POST", "/tokens"):
        assert " 201 " in line
    leftovers = [name for name in os.listdir(mount.token_file.parent)
                 if name.startswith("." + mount.token_file.name)]
    assert leftovers == []


def test_a_failed_renewal_is_logged_and_tried_again(proxy, mount_factory, tokend):
    # 12 s: due at 8 s, failing at 8 and 9, tried again at 10.
    mount = mount_factory(token=tokend.add_user("alice", duration="12s"),
                          options=["renew", f"origin={proxy.url}"], origin=False)
    mount.expect(RENEWED)
    mount.expect(r"^rerobotsfs: renew: POST /tokens: HTTP 500")
    mount.expect(r"^rerobotsfs: renewing the mount's token [0-9a-f]{12}\.\.\. failed: ")
    # A 500 leaves the outcome of a create unknown: the client settles it in the background.
    mount.expect(r"the outcome of the failed create is unknown|a request that had failed made")
    proxy.set_fault("status", method="POST", path="/tokens", status=500, times=2)
    assert wait_until(lambda: renewals(mount), 15), mount.stderr_lines()
    failed = [line for line in mount.stderr_lines() if "renewing the mount's token" in line]
    assert failed and all("trying again in 1 s" in line for line in failed), failed
    assert mount.stderr_lines().index(failed[0]) < mount.stderr_lines().index(renewals(mount)[0])
    new = mount.token_file.read_text().strip()
    api = Api(tokend.url, new)

    def only_the_new_token_is_active():
        status, body = api.call("GET", "/tokens")
        return status == 200 and [token["id"] for token in body["tokens"]] == [token_id(new)]

    # Nothing left behind once the client settled what the failures may have made.
    assert wait_until(only_the_new_token_is_active, 5)


def test_a_renewed_token_file_keeps_its_owner(mount_factory, tokend):
    # The driver runs as root, for a token file that belongs to nobody.
    mount = mount_factory(token=tokend.add_user("alice", duration="6s"), options=["renew"])
    mount.expect(RENEWED)
    os.chown(mount.token_file, NOBODY, NOBODY)
    assert wait_until(lambda: renewals(mount), 10), mount.stderr_lines()
    st = os.stat(mount.token_file)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, NOBODY, 0o600)
    assert mount.token_file.read_text().strip() != mount.token


def test_a_rotated_token_file_is_taken_up_after_a_401(mount_factory, tokend):
    mount = mount_factory(list_ttl=1)
    mount.expect(r"the API rejected the mount's token .*; switched to token ")
    assert os.listdir(mount.path) == [mount.id]
    # Another program rotates the file, then revokes the token the mount uses.
    new = tokend.add_user("alice")
    write_token_file(mount.token_file, new)
    assert Api(tokend.url, new).call("POST", "/revoke/" + mount.id)[0] == 200
    time.sleep(1.2)

    assert os.listdir(mount.path) == [token_id(new)]
    os.mkdir(mount.path / "1h")
    assert len(os.listdir(mount.path)) == 2
    with pytest.raises(OSError) as failure:
        os.rmdir(mount.path / token_id(new))
    assert failure.value.errno == errno.EBUSY
    switched = [line for line in mount.stderr_lines() if "switched to token" in line]
    assert len(switched) == 1
    assert mount.id[:12] in switched[0] and token_id(new)[:12] in switched[0]
    assert str(mount.token_file) in switched[0]


def test_a_401_with_the_same_token_in_the_file_is_logged_once(mount_factory, tokend):
    mount = mount_factory(list_ttl=1)
    mount.expect(r"still holds it")
    mount.expect(r"HTTP 401|serving cached data|expired at")
    assert Api(tokend.url, mount.token).call("POST", "/revoke/" + mount.id)[0] == 200
    for _ in range(3):
        time.sleep(1.1)
        try:
            os.listdir(mount.path)
        except OSError:
            pass
    still = [line for line in mount.stderr_lines() if "still holds it" in line]
    assert len(still) == 1, mount.stderr_lines()
    assert str(mount.token_file) in still[0] and mount.id[:12] in still[0]


def test_a_401_to_a_token_from_the_environment_is_logged_once(mount_factory, tokend):
    token = tokend.add_user("alice")
    env = dict(os.environ, REROBOTS_API_TOKEN=token)
    mount = mount_factory(token=token, env=env, token_file=False, list_ttl=1)
    mount.expect(r"REROBOTS_API_TOKEN, which cannot be read again")
    mount.expect(r"HTTP 401|serving cached data")
    assert Api(tokend.url, token).call("POST", "/revoke/" + mount.id)[0] == 200
    for _ in range(3):
        time.sleep(1.1)
        try:
            os.listdir(mount.path)
        except OSError:
            pass
    lines = [line for line in mount.stderr_lines() if "cannot be read again" in line]
    assert len(lines) == 1 and mount.id[:12] in lines[0], mount.stderr_lines()


def test_renew_of_a_token_from_the_environment_warns_and_renews_nothing(mount_factory, tokend):
    token = tokend.add_user("alice", duration="6s")
    env = dict(os.environ, REROBOTS_API_TOKEN=token)
    mount = mount_factory(token=token, env=env, token_file=False, options=["renew"])
    mount.expect(r"REROBOTS_API_TOKEN")
    assert wait_until(lambda: any("is not renewed" in line for line in mount.stderr_lines()), 2)
    time.sleep(5)  # past two thirds of its life
    assert tokend.requests("POST", "/tokens") == []
    assert renewals(mount) == []
    (line,) = [line for line in mount.stderr_lines() if "expires within the hour" in line]
    assert "REROBOTS_API_TOKEN" in line


@pytest.mark.parametrize("duration, within", [("30m", "the hour"), ("2h", "a day")])
def test_without_renew_a_warning_names_the_file_to_update(mount_factory, tokend, duration,
                                                          within):
    mount = mount_factory(token=tokend.add_user("alice", duration=duration))
    mount.expect(r"expires within")
    assert wait_until(lambda: any("expires within" in line for line in mount.stderr_lines()), 3)
    (line,) = [line for line in mount.stderr_lines() if "expires within" in line]
    assert f"expires within {within}" in line
    assert str(mount.token_file) in line and "-o renew" in line
    assert mount.id[:12] in line
    assert tokend.requests("POST", "/tokens") == []


def test_the_old_token_is_gone_at_once_also_where_it_was_looked_up(mount_factory, tokend):
    # With list_ttl=10 the kernel may keep what it looked up for 10 s.
    mount = mount_factory(token=tokend.add_user("alice", duration="6s"), options=["renew"],
                          list_ttl=10)
    mount.expect(RENEWED)
    assert os.listdir(mount.path) == [mount.id]
    os.stat(mount.path / mount.id / "jwt.txt")
    assert wait_until(lambda: renewals(mount), 10), mount.stderr_lines()
    assert wait_until(lambda: not os.path.exists(mount.path / mount.id), 1.5)
    assert mount.id not in os.listdir(mount.path)
