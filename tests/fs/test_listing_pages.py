"""Listings of many tokens read page by page (docs/openapi.yaml, "Pages"), counted in the
service's log: one request a page, pages of one listing, and servers that do not page.

The service's log hides the queries it does not show whole, so the mounts
reach it through tests/faultproxy.py, which sees each page's limit and after.
"""

import os
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from fsutil import Api, log_mark, make_tokens, settled_requests, token_id, wait_until

# Three pages of at most 1000 tokens (the mount's own token included).
TOKENS = 2500
PAGES = 3


def listing_requests(tokend, mark):
    """(path, status) of every GET /tokens the service logged after mark, once it went quiet;
    the path as the log shows it."""
    settled_requests(tokend)
    found = []
    for line in tokend.log_lines()[mark:]:
        match = tokend.REQUEST_LINE.match(line)
        if match and match.group("method") == "GET" and \
                urlsplit(match.group("path")).path == "/tokens":
            found.append((match.group("path"), int(match.group("status"))))
    return found


def query(path):
    return {name: values[0] for name, values in parse_qs(urlsplit(path).query).items()}


def assert_one_walk(paths, with_token):
    """paths are the pages of one walk: limit=1000, then after= going up, with_token as given."""
    queries = [query(path) for path in paths]
    assert all(q.get("limit") == "1000" for q in queries), paths
    assert all(("with_token" in q) == with_token for q in queries), paths
    afters = [q.get("after", "") for q in queries]
    assert afters[0] == "" and afters[1:] == sorted(afters[1:]) and "" not in afters[1:], paths


@pytest.fixture(scope="class")
def crowd(class_tokend):
    """A service whose user crowd has TOKENS active tokens; returns (service, crowd's token)."""
    token = class_tokend.add_user("crowd")
    make_tokens(class_tokend.url, token, TOKENS - 1)
    return class_tokend, token


class TestPages:
    """Counted from before the mount: its check walks every page, so that it starts with the
    whole listing."""

    @pytest.fixture
    def tokend(self, crowd):
        return crowd[0]

    def mount(self, mount_factory, crowd, proxy, list_ttl=30):
        return mount_factory(list_ttl=list_ttl, token=crowd[1], origin=False,
                             options=[f"origin={proxy.url}"])

    def test_the_mount_walks_the_pages_once_and_a_cold_ls_asks_nothing(self, mount_factory,
                                                                        crowd, tokend, proxy):
        mark = log_mark(tokend)
        mount = self.mount(mount_factory, crowd, proxy)
        assert len(os.listdir(mount.path)) == TOKENS
        made = listing_requests(tokend, mark)
        assert [status for _, status in made] == [200] * PAGES
        assert_one_walk(proxy.paths("GET", "/tokens"), with_token=False)

    def test_a_cold_cat_of_every_token_is_one_request_a_page_and_no_single_reads(
            self, mount_factory, crowd, tokend, proxy):
        mark = log_mark(tokend)
        mount = self.mount(mount_factory, crowd, proxy)
        texts = subprocess.run(f"cat {mount.path}/*/jwt.txt", shell=True, capture_output=True,
                               text=True, check=True).stdout.splitlines()
        assert len(texts) == TOKENS
        assert {token_id(text) for text in texts} == set(os.listdir(mount.path))
        # The mount's walk, then the cat's: a request a page of texts, and nothing else.
        assert len(listing_requests(tokend, mark)) == 2 * PAGES
        paths = proxy.paths("GET", "/tokens")
        assert_one_walk(paths[:PAGES], with_token=False)
        assert_one_walk(paths[PAGES:], with_token=True)
        assert len(paths) == 2 * PAGES
        assert tokend.requests("GET", "/token/") == []

    def test_a_304_revalidates_the_whole_listing_in_one_request(self, mount_factory, crowd,
                                                                 tokend, proxy):
        mount = self.mount(mount_factory, crowd, proxy, list_ttl=1)
        first = sorted(os.listdir(mount.path))
        time.sleep(1.2)
        mark = log_mark(tokend)
        before = len(proxy.paths())
        assert sorted(os.listdir(mount.path)) == first
        assert [status for _, status in listing_requests(tokend, mark)] == [304]
        assert proxy.paths()[before:] == ["/tokens?limit=1000"]

    def test_a_server_that_does_not_page_is_taken_whole(self, mount_factory, crowd, tokend,
                                                         proxy):
        proxy.set_fault("unpaged", method="GET", path="/tokens")
        mark = log_mark(tokend)
        mount = self.mount(mount_factory, crowd, proxy)
        texts = subprocess.run(f"cat {mount.path}/*/jwt.txt", shell=True, capture_output=True,
                               text=True, check=True).stdout.splitlines()
        assert {token_id(text) for text in texts} == set(os.listdir(mount.path))
        assert len(texts) == TOKENS
        # The driver asked for pages and took the whole listing the server answered.
        assert proxy.count("GET", "/tokens?limit=1000") == 1
        assert proxy.count("GET", "/tokens?with_token=1&limit=1000") == 1
        assert listing_requests(tokend, mark) == [("/tokens", 200), ("/tokens?with_token=1", 200)]

    def test_a_listing_changed_during_the_walk_is_walked_again(self, mount_factory, crowd,
                                                                tokend, proxy):
        """Last of the class: it leaves the crowd two tokens more."""
        mount = self.mount(mount_factory, crowd, proxy, list_ttl=1)
        api = Api(tokend.url, crowd[1])
        # A change, so that the revalidation's first page is no 304 but a walk.
        assert api.call("POST", "/tokens", {"duration": 3600})[0] == 201
        time.sleep(1.2)
        # The walk's second page waits while a token is made: its ETag is another listing's.
        proxy.set_fault("delay", method="GET", path="/tokens?limit=1000&after=", times=1,
                        seconds=1)
        ls = subprocess.Popen(["ls", str(mount.path)], stdout=subprocess.PIPE, text=True)
        assert wait_until(lambda: proxy.faulted() == 1, 5)
        status, made = api.call("POST", "/tokens", {"duration": 3600})
        assert status == 201
        names = ls.communicate(timeout=30)[0].split()
        assert ls.returncode == 0
        assert len(names) == TOKENS + 2 and made["id"] in names
        # The check's first page and two walks' first pages.
        first_pages = proxy.count("GET", "/tokens?limit=1000") - \
            proxy.count("GET", "/tokens?limit=1000&after=")
        assert first_pages == 3
        assert not mount.unexpected_lines()
