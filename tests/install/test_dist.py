"""`meson dist`: the tarball of the last commit builds, passes its tests and installs.

meson dist packs HEAD (uncommitted changes are not in it, hence
--allow-dirty in a working checkout) and checks the tarball by unpacking,
building, running `meson test` and installing it with DESTDIR.
"""

import tarfile

from installutil import run


def test_dist_tarball_builds_and_passes_its_tests(install_build):
    run(["meson", "dist", "-C", install_build, "--allow-dirty", "--formats", "xztar"],
        timeout=600)
    tarballs = list((install_build / "meson-dist").glob("rerobotsfs-*.tar.xz"))
    assert len(tarballs) == 1
    with tarfile.open(tarballs[0]) as tarball:
        names = set(tarball.getnames())
    top = tarballs[0].name.removesuffix(".tar.xz")
    for path in ("meson.build", "README.md", "man/rerobotsfs.1", "contrib/fstab",
                 "scripts/test", "tests/conftest.py"):
        assert f"{top}/{path}" in names
