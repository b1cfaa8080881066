"""Fixtures of the install suite: the working tree built with the usual prefix and installed.

    def test_something(installed):
        assert (installed.root / "usr/local/bin/rerobotsfs").is_file()

The tree is set up in a build directory of its own, outside the checkout,
with --prefix=/usr/local (meson's default, spelled out so that the paths the
tests expect do not depend on the build directory the other suites use), and
installed once per session with DESTDIR, as a packager would.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from installutil import PREFIX, REPO_DIR, run


@pytest.fixture(scope="session")
def install_build(tmp_path_factory):
    """A build directory of the working tree, configured with --prefix=/usr/local and compiled."""
    build = tmp_path_factory.mktemp("install") / "build"
    run(["meson", "setup", f"--prefix={PREFIX}", build, REPO_DIR])
    run(["meson", "compile", "-C", build])
    return build


@dataclass
class Installed:
    root: Path

    @property
    def prefix(self):
        """The installed tree's prefix, under DESTDIR."""
        return self.root / PREFIX.lstrip("/")


@pytest.fixture(scope="session")
def installed(install_build, tmp_path_factory):
    """`meson install --destdir DIR` of install_build."""
    root = tmp_path_factory.mktemp("destdir")
    run(["meson", "install", "-C", install_build, "--no-rebuild", "--destdir", root],
        env={**os.environ, "DESTDIR": ""})
    return Installed(root)
