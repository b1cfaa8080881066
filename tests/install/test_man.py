"""The man pages: clean under `mandoc -T lint`, and listing exactly the options --help lists."""

import re
import subprocess

import pytest

from installutil import REPO_DIR, require_tool, run

PAGES = {
    "rerobotsfs": ("bin/rerobotsfs", "share/man/man1/rerobotsfs.1"),
    "rerobots-tokend": ("sbin/rerobots-tokend", "share/man/man8/rerobots-tokend.8"),
}
# -o name, --long-name or -x, at the start of a word.
OPTION = re.compile(r"(?<![\w-])(?:-o (\w+)|(--[a-z][a-z-]*|-[a-zA-Z])\b)")


def options_in(text):
    return {mount_option or flag for mount_option, flag in OPTION.findall(text)}


def help_options(program):
    result = run([program, "--help"])
    return options_in(result.stdout)


def man_options(page):
    """The options of the page's OPTIONS section: those that head an entry (a .TP tag)."""
    text = run(["mandoc", "-T", "ascii", page]).stdout
    text = re.sub(".\b", "", text)
    section = text.split("\nOPTIONS\n", 1)[1]
    section = re.split(r"\n[A-Z][A-Z ']+\n", section, maxsplit=1)[0]
    tags = [line.strip() for line in section.splitlines() if re.match(r"^ {7}-", line)]
    return options_in("\n".join(tags))


def test_man_pages_are_clean_under_mandoc_lint():
    require_tool("mandoc", "mandoc")
    pages = sorted((REPO_DIR / "man").glob("*.[18]"))
    assert [page.name for page in pages] == ["rerobots-tokend.8", "rerobotsfs.1"]
    result = subprocess.run(["mandoc", "-T", "lint", *pages], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("name", PAGES)
def test_help_lists_the_options_of_the_man_page(installed, name):
    require_tool("mandoc", "mandoc")
    program, page = PAGES[name]
    listed = help_options(installed.prefix / program)
    documented = man_options(installed.prefix / page)
    assert len(listed) >= 8
    assert listed == documented
