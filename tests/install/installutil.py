"""Helpers of the install suite."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent.parent
PREFIX = "/usr/local"


def run(command, **kwargs):
    """Runs command and fails the test with its output unless it exits 0."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited with {result.returncode}:\n"
        + result.stdout + result.stderr
    )
    return result


def require_tool(name, package):
    if shutil.which(name) is None:
        pytest.skip(f"{name} is missing: install Debian's {package} (scripts/install-deps does)")
