"""Open views stay true: a watcher on the root sees every change as a local one would make it.

File managers learn of changes only through inotify (GIO's local file
monitor, which PCManFM, Thunar and Nautilus use). Each row of the man page's
"Open views" is tested twice, through inotifywait and through `gio monitor`,
on a watch set up before the change: the events must be exactly those a
local mkdir, rmdir or rename would have made, arrive within a second of the
driver learning of the change, and cost no request of their own.
"""

import errno
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from fsutil import Api, log_mark, settled_requests, token_id, traffic_since, wait_until

# What the driver learns it tells open views within.
VIEW_DEADLINE = 1.0
# How long a watch stays quiet after the last expected event for a row to count as exact.
QUIET = 0.5
WATCHERS = ["inotifywait", "gio"]


class Watch:
    """A watcher on a directory; events() are ("created", name), ("deleted", name),
    ("moved_from", name) and ("moved_to", name), or ("renamed", old, new) from GIO, and from
    inotifywait ("deleted_self", "") when the directory itself goes."""

    INOTIFY_LINE = re.compile(r"^(?P<events>\S+) (?P<name>.*)$")
    GIO_LINE = re.compile(r"^[^:]*: (?P<path>.*?): (?P<event>created|deleted|renamed to (?P<to>.*))$")

    def __init__(self, kind, path):
        self.kind = kind
        self.path = str(path)
        if kind == "inotifywait":
            command = ["inotifywait", "-m", "-q", "-e", "create,delete,delete_self,moved_from,moved_to",
                       "--format", "%e %f", self.path]
        else:
            # GIO writes to a pipe in blocks; stdbuf makes it a line at a time.
            command = ["stdbuf", "-oL", "gio", "monitor", "-d", self.path]
        tool = command[0] if kind == "inotifywait" else "gio"
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing (scripts/install-deps installs it)")
        self._events = []
        self._times = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert wait_until(self._watching, 10), f"{kind} set up no inotify watch"

    def _watching(self):
        """Whether the watcher holds an inotify watch: then no event can be missed."""
        fdinfo = f"/proc/{self.process.pid}/fdinfo"
        for fd in os.listdir(fdinfo):
            try:
                with open(os.path.join(fdinfo, fd)) as info:
                    if "inotify wd:" in info.read():
                        return True
            except OSError:
                continue
        return False

    def _parse(self, line):
        if self.kind == "inotifywait":
            match = self.INOTIFY_LINE.match(line)
            if not match:
                return None
            kinds = match.group("events").split(",")
            for kind, event in (("CREATE", "created"), ("DELETE", "deleted"),
                                ("DELETE_SELF", "deleted_self"), ("MOVED_FROM", "moved_from"),
                                ("MOVED_TO", "moved_to")):
                if kind in kinds:
                    return (event, match.group("name"))
            return None
        match = self.GIO_LINE.match(line)
        if not match:
            return None
        name = os.path.basename(match.group("path"))
        if match.group("to") is not None:
            return ("renamed", name, os.path.basename(match.group("to")))
        return (match.group("event"), name)

    def _read(self):
        for line in self.process.stdout:
            event = self._parse(line.rstrip("\n"))
            if event is not None:
                with self._lock:
                    self._events.append(event)
                    self._times.append(time.monotonic())

    def events(self):
        with self._lock:
            return list(self._events)

    def wait(self, count, deadline):
        """The events once count have come (or the monotonic deadline passed) and QUIET
        seconds passed with no other; with the time the count-th one came, or None."""
        wait_until(lambda: len(self.events()) >= count, max(0, deadline - time.monotonic()),
                   interval=0.01)
        time.sleep(QUIET)
        with self._lock:
            return list(self._events), (self._times[count - 1] if len(self._times) >= count
                                        else None)

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)


@pytest.fixture
def watch_factory():
    watches = []

    def make(kind, path):
        watch = Watch(kind, path)
        watches.append(watch)
        return watch

    yield make
    for watch in watches:
        watch.close()


def expected_move(kind, old, new):
    """What a watcher sees of a rename of old to new in the directory watched."""
    if kind == "inotifywait":
        return [("moved_from", old), ("moved_to", new)]
    return [("renamed", old, new)]


def replay(names, events):
    """The names a view shows after it applied events to names, as a file manager does."""
    shown = set(names)
    for event in events:
        if event[0] == "created" or event[0] == "moved_to":
            shown.add(event[1])
        elif event[0] in ("deleted", "moved_from"):
            shown.discard(event[1])
        elif event[0] == "renamed":
            shown.discard(event[1])
            shown.add(event[2])
    return shown


def expiry_of(mount, token):
    with open(mount.path / token / "expires") as expires:
        return time.mktime(time.strptime(expires.read(), "%Y-%m-%dT%H:%M:%SZ\n")) - time.timezone


def only_listings(lines):
    """Whether every request line is a GET of the listing: what the test's own ls asked."""
    return all(" GET /tokens " in line or " GET /tokens?" in line for line in lines)


@pytest.mark.parametrize("kind", WATCHERS)
def test_an_expired_token_is_deleted_in_an_open_view(kind, mount_factory, tokend, watch_factory):
    # A long list_ttl: only the driver can tell the view this soon, from what it knows.
    mount = mount_factory(list_ttl=30)
    os.mkdir(mount.path / "3s")
    (token,) = set(os.listdir(mount.path)) - {mount.id}
    expires = expiry_of(mount, token)
    # The duration name has turned into the id by now.
    time.sleep(VIEW_DEADLINE)
    before = len(settled_requests(tokend))
    watch = watch_factory(kind, mount.path)

    deadline = time.monotonic() + (expires - time.time()) + VIEW_DEADLINE
    events, came = watch.wait(1, deadline)
    assert events == [("deleted", token)]
    assert came <= deadline
    assert replay({mount.id, token}, events) == set(os.listdir(mount.path)) == {mount.id}
    assert len(settled_requests(tokend)) == before


@pytest.mark.parametrize("kind", WATCHERS)
def test_a_token_revoked_elsewhere_is_deleted_in_an_open_view(kind, mount_factory, tokend,
                                                               watch_factory):
    mount = mount_factory(list_ttl=1)
    other = token_id(tokend.add_user("alice"))
    assert wait_until(lambda: other in os.listdir(mount.path), 3)
    # The view showed the folder and looked into it.
    assert sorted(os.listdir(mount.path / other)) == ["created", "expires", "jwt.txt"]
    # Whatever the driver had to tell of the token made before is told by now.
    time.sleep(VIEW_DEADLINE)
    watch = watch_factory(kind, mount.path)

    assert Api(tokend.url, mount.token).call("POST", "/revoke/" + other)[0] == 200
    time.sleep(1.1)
    mark = log_mark(tokend)
    # Any listing teaches the driver; here an ls after list_ttl.
    assert other not in os.listdir(mount.path)
    learned = time.monotonic()
    events, came = watch.wait(1, learned + VIEW_DEADLINE)
    assert events == [("deleted", other)]
    assert came <= learned + VIEW_DEADLINE
    assert replay({mount.id, other}, events) == set(os.listdir(mount.path))
    assert only_listings(traffic_since(tokend, mark)[0])


@pytest.mark.parametrize("kind", WATCHERS)
def test_a_token_made_elsewhere_is_created_in_an_open_view(kind, mount_factory, tokend,
                                                           watch_factory):
    mount = mount_factory(list_ttl=1)
    api = Api(tokend.url, mount.token)
    watch = watch_factory(kind, mount.path)

    status, body = api.call("POST", "/tokens", {"duration": 3600})
    assert status == 201
    time.sleep(1.1)
    mark = log_mark(tokend)
    assert body["id"] in os.listdir(mount.path)
    learned = time.monotonic()
    events, came = watch.wait(1, learned + VIEW_DEADLINE)
    assert events == [("created", body["id"])]
    assert came <= learned + VIEW_DEADLINE
    assert replay({mount.id}, events) == set(os.listdir(mount.path))
    assert only_listings(traffic_since(tokend, mark)[0])
    # The folder is the token's, not an empty one.
    assert (mount.path / body["id"] / "jwt.txt").read_text() == body["token"] + "\n"


@pytest.mark.parametrize("then", ["", " && ls MOUNT >/dev/null"], ids=["mkdir", "mkdir-then-ls"])
@pytest.mark.parametrize("kind", WATCHERS)
def test_mkdir_duration_turns_into_the_id_in_an_open_view(kind, then, mount_factory, tokend,
                                                          watch_factory):
    # With ls at once, the kernel meets the id before the driver renames the name to it.
    mount = mount_factory(list_ttl=30)
    watch = watch_factory(kind, mount.path)
    mark = log_mark(tokend)

    command = f"mkdir {mount.path}/24h" + then.replace("MOUNT", str(mount.path))
    subprocess.run(command, shell=True, check=True)
    made = time.monotonic()
    events, came = watch.wait(len(expected_move(kind, "", "")) + 1, made + VIEW_DEADLINE)
    (new,) = set(os.listdir(mount.path)) - {mount.id}
    assert events == [("created", "24h"), *expected_move(kind, "24h", new)]
    assert came <= made + VIEW_DEADLINE
    assert replay({mount.id}, events) == set(os.listdir(mount.path))
    # One token made, and nothing else asked of the API.
    requests = traffic_since(tokend, mark)[0]
    assert len(requests) == 1 and " POST /tokens " in requests[0]
    assert (mount.path / new / "jwt.txt").exists()
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / "24h")


@pytest.mark.parametrize("kind", WATCHERS)
def test_a_token_revoked_before_its_name_turned_leaves_no_name_in_an_open_view(
        kind, mount_factory, tokend, watch_factory):
    # A script that makes a token, finds its id with ls and revokes it at once: the id was
    # deleted before the driver could rename the name to it, so the name must go too.
    mount = mount_factory(list_ttl=30)
    watch = watch_factory(kind, mount.path)
    mark = log_mark(tokend)
    os.mkdir(mount.path / "24h")
    (new,) = set(os.listdir(mount.path)) - {mount.id}
    os.rmdir(mount.path / new)
    revoked = time.monotonic()
    events, came = watch.wait(3, revoked + VIEW_DEADLINE)
    assert events == [("created", "24h"), ("deleted", new), ("deleted", "24h")]
    assert came <= revoked + VIEW_DEADLINE
    assert replay({mount.id}, events) == set(os.listdir(mount.path)) == {mount.id}
    requests = traffic_since(tokend, mark)[0]
    assert [line.split()[1:3] for line in requests] == [["POST", "/tokens"],
                                                         ["POST", "/revoke/" + new]]


@pytest.mark.parametrize("kind", WATCHERS)
def test_the_same_duration_twice_at_once_makes_two_tokens_in_an_open_view(
        kind, mount_factory, tokend, watch_factory):
    mount = mount_factory(list_ttl=30)
    watch = watch_factory(kind, mount.path)
    os.mkdir(mount.path / "1h")
    os.mkdir(mount.path / "1h")
    made = time.monotonic()
    tokens = set(os.listdir(mount.path)) - {mount.id}
    assert len(tokens) == 2
    assert len(settled_requests(tokend, "POST", "/tokens")) == 2
    # The second mkdir takes the name over: the first token's id is made, the name moves to
    # the second's.
    events, _ = watch.wait(4, made + VIEW_DEADLINE)
    assert replay({mount.id}, events) == set(os.listdir(mount.path))


@pytest.mark.parametrize("kind", WATCHERS)
def test_no_ghost_is_left_of_a_listed_token_revoked_elsewhere(kind, mount_factory, tokend,
                                                              watch_factory):
    mount = mount_factory(list_ttl=1)
    other = token_id(tokend.add_user("alice"))
    assert wait_until(lambda: other in os.listdir(mount.path), 3)
    folder = mount.path / other
    os.stat(folder / "jwt.txt")
    time.sleep(VIEW_DEADLINE)
    watch = watch_factory(kind, mount.path)
    # A second window shows the folder itself.
    inside = watch_factory("inotifywait", folder)

    assert Api(tokend.url, mount.token).call("POST", "/revoke/" + other)[0] == 200
    time.sleep(1.1)
    os.listdir(mount.path)
    events, _ = watch.wait(1, time.monotonic() + VIEW_DEADLINE)
    assert events == [("deleted", other)]
    assert inside.events() == [("deleted_self", "")]
    # What the view showed is gone, not an empty folder.
    with pytest.raises(FileNotFoundError):
        os.listdir(folder)
    with pytest.raises(OSError) as failure:
        os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    assert failure.value.errno == errno.ENOENT


@pytest.mark.parametrize("flags,options", [(("-s",), ()), ((), ("allow_other",))],
                         ids=["single-threaded", "allow_other"])
def test_open_views_stay_true_with_one_thread_and_with_allow_other(flags, options, mount_factory,
                                                                   tokend, watch_factory):
    # With -s the one loop thread answers the driver's own calls; with allow_other the kernel
    # checks the modes (default_permissions) of those calls too.
    if options and os.geteuid() != 0:
        pytest.skip("allow_other needs root, or user_allow_other in /etc/fuse.conf")
    mount = mount_factory(list_ttl=30, flags=flags, options=options)
    watch = watch_factory("inotifywait", mount.path)
    os.mkdir(mount.path / "2s")
    (new,) = set(os.listdir(mount.path)) - {mount.id}
    expires = expiry_of(mount, new)
    events, _ = watch.wait(4, time.monotonic() + (expires - time.time()) + VIEW_DEADLINE)
    assert events == [("created", "2s"), ("moved_from", "2s"), ("moved_to", new),
                      ("deleted", new)]
    assert os.listdir(mount.path) == [mount.id]


def test_unmounting_before_the_rename_leaves_the_mount_point_untouched(mount_factory):
    mount = mount_factory(list_ttl=30)
    os.mkdir(mount.path / "24h")
    # At once, while the driver has yet to rename 24h: the unmount must not fail busy, and
    # the driver must make nothing in the directory that the mount covered.
    mount.unmount()
    time.sleep(VIEW_DEADLINE)
    assert os.listdir(mount.path) == []


def test_a_mount_hiding_the_mount_never_sees_the_drivers_calls(mount_factory, tokend):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = mount_factory(list_ttl=30)
    os.mkdir(mount.path / "2s")
    (expiring,) = set(os.listdir(mount.path)) - {mount.id}
    expires = expiry_of(mount, expiring)
    os.mkdir(mount.path / "24h")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "hiding", str(mount.path)],
                   check=True)
    try:
        os.mkdir(mount.path / "24h")
        os.mkdir(mount.path / expiring)
        time.sleep(max(VIEW_DEADLINE, expires - time.time() + VIEW_DEADLINE))
        # Neither the rename of 24h nor the removal of the expired token reached the tmpfs.
        assert sorted(os.listdir(mount.path)) == sorted(["24h", expiring])
    finally:
        subprocess.run(["umount", str(mount.path)], check=True)
    shown = set(os.listdir(mount.path))
    assert expiring not in shown and "24h" not in shown and len(shown) == 2
