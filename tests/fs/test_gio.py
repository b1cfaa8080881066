"""File managers: what Nautilus and Thunar do, through GIO's `gio` tool.

GIO is the library those file managers use for every file operation, so
`gio` run on the mount does what they do: list, show properties, copy a file
out, make a folder, delete a folder with what is in it, move to the trash.
"""

import os
import shutil
import subprocess

import pytest

from fsutil import settled_requests, wait_until

# Names that file managers, desktops and shells look up in every folder they show.
PROBE_NAMES = [
    ".hidden", ".directory", ".Trash", f".Trash-{os.getuid()}", ".Trash-1000",
    ".xdg-volume-info", "autorun.inf", "AUTORUN.INF", ".autorun", "desktop.ini",
    "Desktop.ini", "folder.jpg", "folder.png", ".folder.png", ".DS_Store", "Thumbs.db",
    ".thumbnails", ".sh_thumbnails", ".sh_thumbnails/normal/0123456789abcdef.png",
    ".git", ".localized", ".comments",
]


@pytest.fixture(scope="module")
def gio():
    path = shutil.which("gio")
    if path is None:
        pytest.skip("gio is missing: install Debian's libglib2.0-bin (scripts/install-deps does)")
    return path


def run_gio(gio, *args, home=None):
    env = dict(os.environ)
    if home is not None:
        env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"))
    return subprocess.run([gio, *map(str, args)], capture_output=True, text=True, timeout=30,
                          env=env)


def gio_ok(gio, *args):
    result = run_gio(gio, *args)
    assert result.returncode == 0, f"gio {' '.join(map(str, args))}: {result.stderr}"
    return result.stdout


def test_gio_list_shows_the_tokens(gio, mount):
    os.mkdir(mount.path / "1h")
    listed = gio_ok(gio, "list", "-l", mount.path).splitlines()
    expected = sorted(os.listdir(mount.path))
    assert len(expected) == 2
    assert sorted(line.split("\t")[0] for line in listed) == expected
    assert all(line.split("\t")[2] == "(directory)" for line in listed)


def test_gio_info_shows_exact_sizes(gio, mount):
    info = gio_ok(gio, "info", "-a", "standard::type,standard::size",
                  mount.path / mount.id / "jwt.txt")
    assert "standard::type: 1\n" in info
    assert f"standard::size: {len(mount.token) + 1}\n" in info


def test_gio_copy_copies_jwt_txt_out(gio, mount, tmp_path):
    target = tmp_path / "copied.jwt"
    gio_ok(gio, "copy", mount.path / mount.id / "jwt.txt", target)
    assert target.read_text() == mount.token + "\n"


def test_gio_mkdir_makes_a_token(gio, mount, tokend):
    gio_ok(gio, "mkdir", mount.path / "24h")
    assert len(settled_requests(tokend, "POST", "/tokens")) == 1
    assert len(os.listdir(mount.path)) == 2


def test_gio_remove_of_a_token_folder_and_its_files_revokes_it(gio, mount, tokend, api):
    os.mkdir(mount.path / "24h")
    (token,) = set(os.listdir(mount.path)) - {mount.id}
    folder = mount.path / token
    # A file manager's delete: the folder's children first, then the folder.
    children = gio_ok(gio, "list", folder).split()
    assert sorted(children) == ["created", "expires", "jwt.txt"]
    gio_ok(gio, "remove", *(folder / child for child in children))
    assert token in os.listdir(mount.path)
    assert tokend.requests("POST", "/revoke/") == []
    gio_ok(gio, "remove", folder)
    assert wait_until(lambda: tokend.requests("POST", "/revoke/" + token), 2)
    assert token not in os.listdir(mount.path)
    assert api.call("GET", "/token/" + token)[0] == 404


def test_gio_trash_fails_cleanly_and_revokes_nothing(gio, mount, tokend, api, tmp_path):
    # GIO trashes into MOUNT/.Trash-UID, which no mkdir can make here.
    mount.expect(r'^rerobotsfs: mkdir "\.Trash-\d+": not a duration')
    home = tmp_path / "home"
    home.mkdir()
    folder = mount.path / mount.id
    result = run_gio(gio, "trash", folder, home=home)
    assert result.returncode != 0
    assert "trash" in result.stderr.lower()
    assert os.listdir(mount.path) == [mount.id]
    assert sorted(os.listdir(folder)) == ["created", "expires", "jwt.txt"]
    assert settled_requests(tokend, "POST") == []
    assert api.call("GET", "/token/" + mount.id)[0] == 200
    # Nothing went to a trash in the home either. GIO may leave a cache there (with gvfs,
    # as on any desktop, it does): that is no trash.
    assert not any("trash" in path.name.lower() for path in home.rglob("*"))


def test_probe_names_cost_no_request(gio, mount_factory, tokend):
    mount = mount_factory(list_ttl=30)
    folder = mount.path / mount.id
    os.stat(folder / "jwt.txt")
    before = len(settled_requests(tokend))
    for directory in (mount.path, folder):
        for name in PROBE_NAMES:
            with pytest.raises(FileNotFoundError):
                os.stat(directory / name)
            assert run_gio(gio, "info", directory / name).returncode != 0, name
        gio_ok(gio, "list", "-a", "*", directory)
    assert len(settled_requests(tokend)) == before
