"""Bad input gets a clear 4xx with an error_message, changes nothing, and never crashes the service."""

import http.client
import json
import os
import socket

import pytest
import requests

from tokend_client import TIMEOUT, assert_error, token_id

BODY_MAX = 64 * 1024


@pytest.mark.parametrize(
    "body",
    [b"{", b"nope", b'{"duration": }', b'{"duration": 60,}', b"\xff\xfe\x00\x01", b'{"duration": 1, "duration": 2}'],
    ids=["unclosed", "word", "missing-value", "trailing-comma", "binary", "duplicate-key"],
)
def test_malformed_json_is_400(alice, body):
    before = alice.listed_ids()
    assert_error(alice.post("/tokens", data=body), 400)
    assert alice.listed_ids() == before


@pytest.mark.parametrize("body", [b"[]", b'"3600"', b"3600", b"null"])
def test_json_that_is_not_an_object_is_400(alice, body):
    assert_error(alice.post("/tokens", data=body), 400)


@pytest.mark.parametrize(
    "duration",
    ["3600", 0, -1, 3.5, 1e3, 10**30, 2**63, 365 * 86400 + 1, None, True, [60], {"s": 60}],
    ids=["string", "zero", "negative", "fraction", "float", "huge", "int64-overflow", "over-max",
         "null", "bool", "list", "object"],
)
def test_bad_duration_is_400_and_makes_nothing(alice, duration):
    before = alice.listed_ids()
    assert_error(alice.post("/tokens", json={"duration": duration}), 400)
    assert alice.listed_ids() == before


def test_body_over_64k_is_413(alice):
    before = alice.listed_ids()
    assert_error(alice.post("/tokens", data=b" " * (BODY_MAX + 1)), 413)
    assert alice.listed_ids() == before
    assert alice.get("/tokens").status_code == 200


def test_body_of_exactly_64k_is_read(alice):
    body = b'{"duration": 60}'
    response = alice.post("/tokens", data=body + b" " * (BODY_MAX - len(body)))
    assert response.status_code == 201


def test_chunked_body_over_64k_is_413(alice):
    chunks = (b" " * 4096 for _ in range(BODY_MAX // 4096 + 2))
    assert_error(alice.post("/tokens", data=chunks), 413)
    assert alice.get("/tokens").status_code == 200


def test_bad_idempotency_key_is_400(alice):
    before = alice.listed_ids()
    assert_error(alice.post("/tokens", headers={"Idempotency-Key": "x" * 256}), 400)
    assert alice.listed_ids() == before


@pytest.mark.parametrize(
    "bad_id",
    ["abc", "A" * 64, "0" * 63, "0" * 65, "g" * 64, "", "0" * 64 + "/x", "%41" * 64],
    ids=["short", "uppercase", "63-digits", "65-digits", "not-hex", "empty", "subpath", "percent-encoded-uppercase"],
)
@pytest.mark.parametrize("method,prefix", [("GET", "/token/"), ("POST", "/revoke/")])
def test_token_id_not_64_lowercase_hex_is_400(alice, method, prefix, bad_id):
    before = alice.listed_ids()
    assert assert_error(alice.request(method, prefix + bad_id), 400) == "invalid token id"
    assert alice.listed_ids() == before


@pytest.mark.parametrize("path", ["/", "/tokens/", "/token", "/revoke", "/purge/", "/nope", "/v1/tokens"])
def test_unknown_path_is_404(alice, path):
    assert_error(alice.get(path), 404)


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("DELETE", "/tokens", "GET, HEAD, POST"),
        ("PUT", "/tokens", "GET, HEAD, POST"),
        ("POST", "/token/" + "0" * 64, "GET, HEAD"),
        ("GET", "/revoke/" + "0" * 64, "POST"),
        ("GET", "/purge", "POST"),
        ("PATCH", "/purge", "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(alice, method, path, allow):
    before = alice.listed_ids()
    response = alice.request(method, path)
    assert_error(response, 405)
    assert response.headers["Allow"] == allow
    assert alice.listed_ids() == before


def raw_exchange(tokend, data, read_timeout=2):
    """Sends raw bytes and returns whatever comes back before the server closes or goes quiet."""
    host, port = tokend.url.removeprefix("http://").rsplit(":", 1)
    received = b""
    with socket.create_connection((host, int(port)), timeout=read_timeout) as connection:
        try:
            connection.sendall(data)
            connection.shutdown(socket.SHUT_WR)
            while chunk := connection.recv(65536):
                received += chunk
        except OSError:  # reset, broken pipe, not connected or timed out: all fine here
            pass
    return received


GARBAGE = {
    "binary": os.urandom(4096),
    "nul-bytes": b"\x00" * 1024,
    "no-http-version": b"GET /tokens\r\n\r\n",
    "bad-version": b"GET /tokens HTTP/9.9\r\n\r\n",
    "bad-method-token": b"G\x01T /tokens HTTP/1.1\r\nHost: x\r\n\r\n",
    "huge-header": b"GET /tokens HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
    "many-headers": b"GET /tokens HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 20000 + b"\r\n",
    "huge-uri": b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "negative-length": b"POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "overflowing-length": b"POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "bad-chunk": b"POST /tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "short-body": b"POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    "control-chars-in-path": b"GET /tok\x7fens\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare-newlines": b"GET /tokens HTTP/1.1\nHost: x\n\n",
}


@pytest.mark.parametrize("data", GARBAGE.values(), ids=GARBAGE.keys())
def test_service_survives_garbage(alice, data):
    raw_exchange(alice.tokend, data)
    assert alice.tokend.running
    assert requests.get(
        alice.tokend.url + "/tokens", headers={"Authorization": "Bearer " + alice.token}, timeout=TIMEOUT
    ).status_code == 200


def test_huge_header_is_refused_with_4xx(tokend):
    reply = raw_exchange(tokend, GARBAGE["huge-header"])
    assert reply == b"" or reply.split(b" ")[1].startswith(b"4")


def test_bearer_in_the_path_reaches_no_log(tokend, alice):
    made = alice.create(60)
    assert_error(alice.get("/token/" + made["token"]), 400)
    assert_error(alice.get("/tokens/" + made["token"] + "?t=" + made["token"]), 404)
    assert token_id(made["token"]) == made["id"]
    log = "\n".join(tokend.log_lines())
    assert made["token"] not in log
    assert made["token"].split(".")[2][:16] not in log


def two_authorizations(tokend, method, first, second):
    """A request with two Authorization headers, which requests cannot send."""
    host, port = tokend.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        connection.putrequest(method, "/tokens")
        connection.putheader("Authorization", "Bearer " + first)
        connection.putheader("authorization", "Bearer " + second)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("order", ["valid-first", "valid-second"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_two_authorization_headers_are_400_and_change_nothing(tokend, alice, bob, order, method):
    credentials = (alice.token, bob.token) if order == "valid-first" else ("x.y.z", alice.token)
    before = alice.listed_ids(), bob.listed_ids()
    status, body = two_authorizations(tokend, method, *credentials)
    assert status == 400
    assert body["error_message"] == "more than one Authorization header"
    assert (alice.listed_ids(), bob.listed_ids()) == before
