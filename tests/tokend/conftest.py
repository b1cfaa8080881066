"""Fixtures of the rerobots-tokend suite: clients of the running service, one per user.

Every answer the service gives to a test of this suite through `requests`
is checked against docs/openapi.yaml when the test ends (see
answers_match_the_document), so the suite as a whole shows that the service
says what the document says.

Each test runs twice, on SQLite and on PostgreSQL (the test run's own
server, see postgres.py): tokend_backend is parametrized here.
"""

import pytest
import requests

from apidoc import ApiDocument
from tokend_client import Client


@pytest.fixture(scope="session")
def api_document():
    return ApiDocument.load()


@pytest.fixture(autouse=True)
def answers_match_the_document(monkeypatch, api_document):
    """Records each answer (request, response) of the test; the test fails unless each matches."""
    answers = []
    send = requests.Session.send

    def send_and_record(session, request, **options):
        response = send(session, request, **options)
        answers.append(response)
        return response

    monkeypatch.setattr(requests.Session, "send", send_and_record)
    yield answers
    problems = []
    for response in answers:
        problems += api_document.check_answer(
            response.request.method,
            response.request.path_url,
            response.status_code,
            response.headers,
            response.content,
        )
    assert problems == [], "answers that depart from docs/openapi.yaml:\n" + "\n".join(problems)


@pytest.fixture(params=["sqlite", "postgresql"])
def tokend_backend(request):
    """Every test of the service runs on both backends."""
    return request.param


@pytest.fixture
def alice(tokend):
    return Client(tokend, tokend.add_user("alice"))


@pytest.fixture
def bob(tokend):
    return Client(tokend, tokend.add_user("bob"))
