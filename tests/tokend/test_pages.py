"""GET /tokens page by page: `limit` and `after`, `next`, and the whole listing's ETag on every page."""

import pytest

from tokend_client import Client, assert_error, token_id

PAGE_MAX = 1000


def pages(client, limit, with_token=False, **headers):
    """Every page of a walk with this limit, following next, as (status, headers, body)."""
    answers = []
    after = None
    while True:
        query = f"/tokens?limit={limit}" + (f"&after={after}" if after else "")
        query += "&with_token=1" if with_token else ""
        response = client.get(query)
        assert response.status_code == 200, response.text
        answers.append(response)
        after = response.json().get("next")
        if after is None:
            return answers
        assert len(answers) < 100, "the pages never end"


@pytest.fixture
def eight(alice):
    """alice with 8 active tokens: her own and 7 made."""
    for _ in range(7):
        alice.create(600)
    assert len(alice.listing()) == 8
    return alice


def test_pages_walk_the_whole_listing_once_in_id_order(eight):
    answers = pages(eight, 3)
    ids = [[token["id"] for token in answer.json()["tokens"]] for answer in answers]
    assert [len(page) for page in ids] == [3, 3, 2]
    flat = [identifier for page in ids for identifier in page]
    assert flat == sorted(eight.listed_ids())
    assert [answer.json().get("next") for answer in answers] == [ids[0][-1], ids[1][-1], None]


def test_pages_with_token_carry_every_text(eight):
    tokens = [token for answer in pages(eight, 5, with_token=True) for token in answer.json()["tokens"]]
    assert len(tokens) == 8
    assert all(token_id(token["token"]) == token["id"] for token in tokens)


def test_every_page_carries_the_etag_of_the_whole_listing(eight):
    plain = eight.get("/tokens").headers["ETag"]
    with_token = eight.get("/tokens?with_token=1").headers["ETag"]
    assert plain != with_token
    assert {answer.headers["ETag"] for answer in pages(eight, 3)} == {plain}
    assert {answer.headers["ETag"] for answer in pages(eight, 3, with_token=True)} == {with_token}


def test_a_page_with_the_current_etag_is_304(eight):
    first = eight.get("/tokens?limit=3")
    after = first.json()["next"]
    etag = first.headers["ETag"]
    for query in (f"/tokens?limit=3&after={after}", f"/tokens?limit=3&after={after}&with_token=1"):
        current = eight.get(query).headers["ETag"]
        response = eight.get(query, headers={"If-None-Match": current})
        assert response.status_code == 304 and response.content == b""
    assert eight.get(f"/tokens?limit=3&after={after}", headers={"If-None-Match": etag}).status_code == 304


def test_a_pages_etag_changes_when_a_token_on_another_page_is_made(eight):
    first = eight.get("/tokens?limit=1")
    made = eight.create(600)["id"]
    again = eight.get("/tokens?limit=1", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert again.headers["ETag"] != first.headers["ETag"]
    assert made in {token["id"] for answer in pages(eight, 4) for token in answer.json()["tokens"]}


def test_a_page_after_a_revoked_id_goes_on_from_there(eight):
    ids = sorted(eight.listed_ids())
    # Any id in the middle but alice's own, which would lock her out.
    revoked = next(index for index in (3, 2, 4) if ids[index] != token_id(eight.token))
    assert eight.post(f"/revoke/{ids[revoked]}").status_code == 200
    page = eight.get(f"/tokens?limit=2&after={ids[revoked]}").json()
    assert [token["id"] for token in page["tokens"]] == ids[revoked + 1:revoked + 3]


def test_after_the_last_id_is_an_empty_last_page(eight):
    page = eight.get("/tokens?limit=2&after=" + "f" * 64).json()
    assert page == {"tokens": []}


def test_after_alone_is_a_page_of_the_servers_size(eight):
    page = eight.get("/tokens?after=" + "0" * 64).json()
    assert sorted(token["id"] for token in page["tokens"]) == sorted(eight.listed_ids())
    assert "next" not in page


def test_a_page_shows_only_the_callers_tokens(eight, bob):
    page = bob.get(f"/tokens?limit={PAGE_MAX}").json()
    assert [token["id"] for token in page["tokens"]] == [token_id(bob.token)]


def test_the_whole_listing_has_no_next(eight):
    assert "next" not in eight.get("/tokens").json()
    assert "next" not in eight.get("/tokens?with_token=1").json()


def test_a_limit_above_the_page_size_is_served_as_a_page_of_1000(tokend):
    client = Client(tokend, tokend.add_user("carol"))
    for _ in range(PAGE_MAX):
        client.post("/tokens", json={"duration": 600})
    first = client.get("/tokens?limit=5000").json()
    assert len(first["tokens"]) == PAGE_MAX
    rest = client.get(f"/tokens?limit=5000&after={first['next']}").json()
    assert len(rest["tokens"]) == 1 and "next" not in rest


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=-1", "limit=x", "limit=", "limit=1.5",
     "after=zz", "after=" + "A" * 64, "after=", "limit=2&after=" + "0" * 63],
)
def test_a_bad_limit_or_after_is_400_naming_it(alice, query):
    named = "after" if "after" in query else "limit"
    assert assert_error(alice.get("/tokens?" + query), 400).startswith(f"{named} must be")
