"""The service's answers are checked against docs/openapi.yaml (see conftest.py); this shows the check runs."""

import json


def test_every_answer_of_a_test_is_recorded_for_the_check(alice, answers_match_the_document):
    made = alice.create(60)
    alice.get(f"/token/{made['id']}")
    alice.post(f"/revoke/{made['id']}")
    alice.get("/tokens")
    recorded = [(r.request.method, r.request.path_url, r.status_code) for r in answers_match_the_document]
    assert recorded == [
        ("POST", "/tokens", 201),
        ("GET", f"/token/{made['id']}", 200),
        ("POST", f"/revoke/{made['id']}", 200),
        ("GET", "/tokens", 200),
    ]


def test_the_check_finds_what_departs_from_the_document_without_quoting_a_token(alice, api_document):
    response = alice.get("/tokens?with_token=1")
    headers = dict(response.headers)
    del headers["ETag"]
    body = response.json()
    body["tokens"][0]["id"] = body["tokens"][0]["token"]
    problems = api_document.check_answer(
        "GET", "/tokens?with_token=1", 200, headers, json.dumps(body).encode()
    )
    assert problems[0] == "GET /tokens 200: no ETag header"
    assert problems[1].startswith("GET /tokens 200: body['tokens'][0]['id']: fails pattern")
    assert len(problems) == 2
    assert not any(token["token"] in problem for token in body["tokens"] for problem in problems)
