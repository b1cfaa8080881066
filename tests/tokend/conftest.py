"""Fixtures of the rerobots-tokend suite: clients of the running service, one per user."""

import pytest

from tokend_client import Client


@pytest.fixture
def alice(tokend):
    return Client(tokend, tokend.add_user("alice"))


@pytest.fixture
def bob(tokend):
    return Client(tokend, tokend.add_user("bob"))
