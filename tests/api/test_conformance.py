"""scripts/conformance: it passes a real rerobots-tokend, fails what is not the API, and harms nothing."""

import http.server
import json
import re
import socket
import sqlite3
import subprocess
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import yaml

from apidoc import SCRIPT, conformance

TIMEOUT = 120
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")
RULE_LINE = re.compile(r"^(pass|FAIL|skip)  ([a-z0-9-]+): ")
RULES = [name for name, *_ in conformance.RULES]


def run_conformance(origin, token_file, *options):
    return subprocess.run(
        [str(SCRIPT), "--origin", origin, "--token-file", str(token_file), *options],
        capture_output=True, text=True, timeout=TIMEOUT,
    )


def outcomes(result):
    """{rule: pass|FAIL|skip} and the summary's counts, checked against each other."""
    lines = result.stdout.splitlines()
    found = {}
    for line in lines[:-1]:
        match = RULE_LINE.match(line)
        assert match, line
        found[match.group(2)] = match.group(1)
    summary = SUMMARY.match(lines[-1])
    assert summary, lines[-1]
    counts = [int(number or 0) for number in summary.groups()]
    assert counts == [list(found.values()).count(word) for word in ("pass", "FAIL", "skip")]
    assert result.returncode == (0 if counts[1:] == [0, 0] else 1)
    return found


@pytest.fixture
def token_file(tokend, tmp_path):
    path = tmp_path / "jwt.txt"
    path.write_text(tokend.add_user("alice") + "\n")
    path.chmod(0o600)
    return path


def test_every_rule_and_purge_pass_against_rerobots_tokend(tokend, token_file):
    found = outcomes(run_conformance(tokend.url, token_file, "--purge"))
    assert list(found) == RULES + ["purge"]
    assert {rule for rule, word in found.items() if word != "pass"} == set()


def test_the_whole_suite_passes_against_rerobots_tokend(tokend, token_file):
    result = run_conformance(tokend.url, token_file)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == f"{len(RULES)} passed, 0 failed"


def listed_ids(tokend, token):
    response = requests.get(tokend.url + "/tokens", headers={"Authorization": "Bearer " + token}, timeout=10)
    assert response.status_code == 200
    return {item["id"] for item in response.json()["tokens"]}


def test_a_run_revokes_only_the_tokens_it_made(tokend, token_file):
    token = token_file.read_text().strip()
    kept = conformance.token_id(tokend.add_user("alice"))
    before = listed_ids(tokend, token)
    result = run_conformance(tokend.url, token_file)
    assert "pass  make:" in result.stdout
    assert listed_ids(tokend, token) == before == {conformance.token_id(token), kept}
    database = sqlite3.connect(tokend.data_dir / "tokens.db")
    made, active = database.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE revoked IS NULL AND expires > unixepoch())"
        " FROM tokens WHERE user = 'alice'"
    ).fetchone()
    database.close()
    assert made > 10 and active == 2


def test_a_run_prints_no_token_text(tokend, token_file):
    result = run_conformance(tokend.url, token_file, "--purge")
    database = sqlite3.connect(tokend.data_dir / "tokens.db")
    texts = [text for (text,) in database.execute("SELECT token FROM tokens")]
    database.close()
    assert len(texts) > 10
    output = result.stdout + result.stderr
    assert not any(text in output for text in texts)
    assert "eyJ" not in output


def test_an_answer_that_departs_from_the_document_fails_its_rule(tokend, token_file, tmp_path):
    document = yaml.safe_load(conformance.DOCUMENT_PATH.read_text())
    listing = document["paths"]["/tokens"]["get"]["responses"]["200"]
    listing["headers"]["X-Never-Sent"] = {"required": True, "schema": {"type": "string"}}
    changed = tmp_path / "openapi.yaml"
    changed.write_text(yaml.safe_dump(document))
    result = run_conformance(tokend.url, token_file, "--document", str(changed))
    assert outcomes(result)["listing"] == "FAIL"
    assert "FAIL  listing: GET /tokens answers the caller's active tokens as JSON: departs from the document: " \
        "GET /tokens 200: no X-Never-Sent header" in result.stdout


def test_a_plain_web_server_fails_with_its_404_and_every_other_rule_skipped(plain_http_server, token_file):
    result = run_conformance(plain_http_server.url, token_file)
    found = outcomes(result)
    assert found["listing"] == "FAIL" and set(found.values()) == {"FAIL", "skip"}
    assert list(found.values()).count("FAIL") == 1
    assert "GET /tokens: answered 404, not 200" in result.stdout.splitlines()[0]


def test_an_origin_where_nothing_listens_fails(token_file):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_conformance(f"http://127.0.0.1:{port}", token_file, "--timeout", "2")
    assert outcomes(result)["listing"] == "FAIL"
    assert "no answer: ConnectionError" in result.stdout


@pytest.mark.parametrize("arguments", [[], ["--origin", "http://127.0.0.1:1"], ["--token-file", "x"]])
def test_origin_and_token_file_are_required(arguments):
    result = subprocess.run([str(SCRIPT), *arguments], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2 and "required" in result.stderr


class PagingProxy(http.server.BaseHTTPRequestHandler):
    """Forwards every request to `target`, changed as `drop` says.

    drop="parameters" forwards requests without limit and after, as to a
    server that does not page; drop="next" takes next out of the answers, as
    from a server whose pages stop short.
    """

    target = None
    drop = None
    protocol_version = "HTTP/1.1"

    def forward(self):
        parts = urlsplit(self.path)
        dropped = ("limit", "after") if self.drop == "parameters" else ()
        query = urlencode([(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
                           if key not in dropped])
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {key: value for key, value in self.headers.items()
                   if key.lower() not in ("host", "content-length", "connection")}
        answer = requests.request(self.command, self.target + parts.path + ("?" + query if query else ""),
                                  headers=headers, data=body, timeout=10)
        content = answer.content
        if self.drop == "next" and answer.status_code == 200 and parts.path == "/tokens":
            listing = answer.json()
            listing.pop("next", None)
            content = json.dumps(listing).encode()
        self.send_response(answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_HEAD = forward

    def log_message(self, format, *args):
        pass


def run_through_proxy(tokend, token_file, drop):
    handler = type("Handler", (PagingProxy,), {"target": tokend.url, "drop": drop})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        return run_conformance(f"http://127.0.0.1:{proxy.server_address[1]}", token_file)
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()


def test_a_server_that_does_not_page_passes_the_rules_of_pages(tokend, token_file):
    found = outcomes(run_through_proxy(tokend, token_file, "parameters"))
    assert [found[rule] for rule in ("pages", "pages-with-token", "page-etag")] == ["pass"] * 3
    assert tokend.requests("GET", "/tokens?")
    assert not [line for line in tokend.requests("GET", "/tokens") if "limit=" in line or "after=" in line]


def test_pages_that_stop_short_fail_the_rules_of_pages(tokend, token_file):
    result = run_through_proxy(tokend, token_file, "next")
    found = outcomes(result)
    assert found["pages"] == found["pages-with-token"] == "FAIL"
    assert "the pages do not make the whole listing" in result.stdout
