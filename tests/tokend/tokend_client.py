"""Helpers for the rerobots-tokend suite: an authenticated client, error checks, JWT decoding."""

import base64
import hashlib
import json
import time

import requests

TIMEOUT = 10


class Client:
    """Calls the API of a running service as one user (one kept-alive connection)."""

    def __init__(self, tokend, token, verify=None):
        self.tokend = tokend
        self.token = token
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + token
        self.session.headers["Accept"] = "application/vnd.rerobots.v1+json"
        # Per request, since $REQUESTS_CA_BUNDLE would override a session's verify.
        self.verify = True if verify is None else verify

    def request(self, method, path, **options):
        options.setdefault("timeout", TIMEOUT)
        options.setdefault("verify", self.verify)
        return self.session.request(method, self.tokend.url + path, **options)

    def get(self, path, **options):
        return self.request("GET", path, **options)

    def post(self, path, **options):
        return self.request("POST", path, **options)

    def create(self, duration=None, **options):
        body = {} if duration is None else {"duration": duration}
        response = self.post("/tokens", json=body, **options)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def listing(self, with_token=False):
        response = self.get("/tokens?with_token=1" if with_token else "/tokens")
        assert response.status_code == 200, response.text
        return response.json()["tokens"]

    def listed_ids(self):
        return {token["id"] for token in self.listing()}


def sleep_until_expired(expires):
    """Sleeps until a token expiring at `expires` (seconds since the Epoch) is expired."""
    time.sleep(max(0.0, expires - time.time()) + 0.05)


def assert_error(response, status):
    """A status with the JSON error body every error carries."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    message = response.json()["error_message"]
    assert isinstance(message, str) and message
    return message


def token_id(text):
    return hashlib.sha256(text.encode()).hexdigest()


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_parts(text):
    """(header, claims) of a JWT, decoded without checking anything."""
    header, claims, _ = text.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))
