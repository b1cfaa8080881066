"""The service as rerobots-tokend(8) describes it: command line, bootstrap, durability,
concurrency, TLS, its log."""

import re
import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time

import pytest
import requests

from tokend_client import Client, jwt_parts, token_id


def run_tokend(build_dir, *arguments):
    return subprocess.run([build_dir / "rerobots-tokend", *arguments], capture_output=True, text=True, timeout=30)


def test_add_user_creates_the_data_dir_database_and_key(build_dir, tmp_path):
    data = tmp_path / "fresh" / "state"
    data.parent.mkdir()
    result = run_tokend(build_dir, "--data", data, "--add-user", "alice")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "signing-key.pem").stat().st_mode) == 0o600
    assert (data / "tokens.db").is_file()
    assert result.stdout.count("\n") == 1
    assert jwt_parts(result.stdout.strip())[1]["sub"] == "alice"


def test_add_user_token_is_valid_24h_by_default(tokend):
    _, claims = jwt_parts(tokend.add_user("alice"))
    assert claims["exp"] - claims["iat"] == 86400


def test_add_user_duration_sets_the_validity(tokend):
    _, claims = jwt_parts(tokend.add_user("alice", "1h30m"))
    assert claims["exp"] - claims["iat"] == 5400


def test_add_user_while_running_is_usable_and_listed(tokend):
    token = tokend.add_user("carol")
    assert token_id(token) in Client(tokend, token).listed_ids()


def test_add_user_writes_no_token_to_stderr(build_dir, tmp_path):
    result = run_tokend(build_dir, "--data", tmp_path / "state", "--add-user", "alice")
    assert result.returncode == 0
    assert result.stdout.strip() not in result.stderr
    assert "eyJ" not in result.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--data", "DIR"],
        ["--listen", "127.0.0.1:0"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--add-user", "alice"],
        ["--data", "DIR", "--add-user", "alice", "--duration", "24"],
        ["--data", "DIR", "--add-user", "alice", "--duration", "0h"],
        ["--data", "DIR", "--add-user", "alice", "--duration", "2d", "--max-duration", "1d"],
        ["--data", "DIR", "--add-user", "with space"],
        ["--data", "DIR", "--add-user", ""],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--duration", "1h"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--max-duration", "1H"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--rate-limit", "0"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--rate-limit", "ten"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--tls-cert", "cert.pem"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--frobnicate"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "extra"],
        ["--data", "DIR", "--listen"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--max-connections", "0"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--max-connections-per-address", "-1"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--request-timeout", "30"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--request-timeout", "2h"],
        ["--data", "DIR", "--listen", "127.0.0.1:0", "--auth-failure-limit", "0"],
    ],
    ids=["nothing", "no-mode", "no-data", "both-modes", "duration-without-unit", "zero-duration",
         "duration-over-max", "name-with-space", "empty-name", "duration-when-serving", "bad-max-duration",
         "zero-rate", "word-rate", "cert-without-key", "unknown-option", "extra-argument", "missing-value",
         "zero-connections", "negative-connections-per-address", "timeout-without-unit",
         "timeout-over-1h", "zero-auth-failures"],
)
def test_bad_command_line_exits_2_with_one_line(build_dir, tmp_path, arguments):
    arguments = [str(tmp_path / "state") if argument == "DIR" else argument for argument in arguments]
    result = run_tokend(build_dir, *arguments)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("rerobots-tokend: ")


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost:", ":8080", "127.0.0.1:65536", "[::1]0"])
def test_bad_listen_address_exits_2(build_dir, tmp_path, address):
    result = run_tokend(build_dir, "--data", tmp_path / "state", "--listen", address)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1


def test_help_exits_0(build_dir):
    result = run_tokend(build_dir, "--help")
    assert result.returncode == 0
    assert "--add-user" in result.stdout


@pytest.mark.parametrize("option", ["--version", "-V"])
def test_version_exits_0_with_the_versions(build_dir, option):
    result = run_tokend(build_dir, option)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"rerobots-tokend version \d+\.\d+\.\d+", lines[0])
    assert [line.split(" version ")[0] for line in lines[1:]] == ["libmicrohttpd", "SQLite",
                                                                   "libpq", "Jansson"]


def test_port_0_picks_a_free_port(tokend, tokend_factory):
    other = tokend_factory()
    ports = {int(tokend.url.rsplit(":", 1)[1]), int(other.url.rsplit(":", 1)[1])}
    assert len(ports) == 2 and 0 not in ports
    assert tokend.url.startswith("http://127.0.0.1:")


def test_listening_line_comes_before_the_first_request(tokend):
    Client(tokend, tokend.add_user("alice")).listing()
    lines = tokend.log_lines()
    listening = next(i for i, line in enumerate(lines) if "listening on http://127.0.0.1:" in line)
    first_request = next(i for i, line in enumerate(lines) if tokend.REQUEST_LINE.match(line))
    assert listening < first_request


def test_busy_port_exits_non_zero(build_dir, tmp_path, tokend):
    port = tokend.url.rsplit(":", 1)[1]
    result = run_tokend(build_dir, "--data", tmp_path / "other", "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


def ipv6_loopback_works():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback_works(), reason="no IPv6 loopback here")
def test_listen_on_ipv6_loopback(tokend_factory):
    tokend = tokend_factory(listen="[::1]:0")
    assert tokend.url.startswith("http://[::1]:")
    assert Client(tokend, tokend.add_user("alice")).get("/tokens").status_code == 200


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly_with_exit_0(tokend, signal_number):
    client = Client(tokend, tokend.add_user("alice"))
    assert client.get("/tokens").status_code == 200
    tokend.process.send_signal(signal_number)
    assert tokend.process.wait(timeout=10) == 0


def start_writers(tokend, token, count):
    """Threads making tokens until the service goes away; returns them and the set of ids acknowledged (201)."""
    acknowledged = set()
    lock = threading.Lock()

    def write():
        client = Client(tokend, token)
        while True:
            try:
                response = client.post("/tokens", json={"duration": 3600}, timeout=5)
            except requests.RequestException:
                return
            if response.status_code == 201:
                with lock:
                    acknowledged.add(response.json()["id"])

    writers = [threading.Thread(target=write) for _ in range(count)]
    for writer in writers:
        writer.start()
    return writers, acknowledged


def test_sigterm_under_load_exits_0_and_keeps_every_acknowledged_token(tokend):
    token = tokend.add_user("alice")
    writers, acknowledged = start_writers(tokend, token, 8)
    time.sleep(1)
    tokend.stop()
    for writer in writers:
        writer.join(timeout=10)
    tokend.start()
    assert acknowledged and acknowledged <= Client(tokend, token).listed_ids()


def test_token_acknowledged_before_kill_9_survives_restart(tokend):
    alice = Client(tokend, tokend.add_user("alice"))
    made = alice.create(3600)
    tokend.kill()
    tokend.start()
    alice = Client(tokend, alice.token)
    assert made["id"] in alice.listed_ids()
    assert alice.get(f"/token/{made['id']}").json() == made
    assert Client(tokend, made["token"]).get("/tokens").status_code == 200


def test_revocation_acknowledged_before_kill_9_survives_restart(tokend):
    alice = Client(tokend, tokend.add_user("alice"))
    made = alice.create(3600)["id"]
    assert alice.post(f"/revoke/{made}").status_code == 200
    tokend.kill()
    tokend.start()
    assert made not in Client(tokend, alice.token).listed_ids()


def test_every_token_acknowledged_to_8_writers_killed_midway_survives(tokend):
    token = tokend.add_user("alice")
    writers, acknowledged = start_writers(tokend, token, 8)
    time.sleep(1.5)
    tokend.kill()
    for writer in writers:
        writer.join(timeout=10)
    assert len(acknowledged) > 8
    tokend.start()
    assert acknowledged <= Client(tokend, token).listed_ids()


def test_8_concurrent_clients_making_200_tokens_each_get_1600_distinct_tokens(tokend):
    token = tokend.add_user("alice")
    made = [[] for _ in range(8)]

    def make(index):
        client = Client(tokend, token)
        for _ in range(200):
            response = client.post("/tokens", json={"duration": 3600})
            assert response.status_code == 201
            made[index].append(response.json())

    clients = [threading.Thread(target=make, args=(index,)) for index in range(8)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    tokens = [token for batch in made for token in batch]
    assert len(tokens) == 1600
    assert len({token["token"] for token in tokens}) == 1600
    assert len({token["id"] for token in tokens}) == 1600
    listed = Client(tokend, token).listing(with_token=True)
    assert {token["id"] for token in tokens} <= {token["id"] for token in listed}
    assert len(listed) == 1601


def test_https_with_tls_cert_and_key(tokend_factory):
    tokend = tokend_factory(tls=True)
    assert tokend.url.startswith("https://127.0.0.1:")
    client = Client(tokend, tokend.add_user("alice"), verify=tokend.cafile)
    assert client.create(60)["id"] in client.listed_ids()
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tokend.url + "/tokens", timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(tokend.url.replace("https://", "http://") + "/tokens", timeout=10)
    assert tokend.running


def test_unreadable_tls_key_exits_non_zero(build_dir, tmp_path):
    result = run_tokend(build_dir, "--data", tmp_path / "state", "--listen", "127.0.0.1:0",
                        "--tls-cert", tmp_path / "missing.pem", "--tls-key", tmp_path / "missing.pem")
    assert result.returncode == 1
    assert "missing.pem" in result.stderr


def test_one_log_line_per_request_with_method_path_status_user_duration_connection(tokend):
    alice = Client(tokend, tokend.add_user("alice"))
    alice.get("/tokens?with_token=1")
    alice.post("/tokens", json={"duration": 60})
    requests.get(tokend.url + "/tokens", timeout=10)
    alice.get("/nope")
    lines = tokend.requests()
    assert len(lines) == 4
    fields = [tokend.REQUEST_LINE.match(line).groupdict() for line in lines]
    assert [(f["method"], f["path"], f["status"], f["user"]) for f in fields] == [
        ("GET", "/tokens?with_token=1", "200", "alice"),
        ("POST", "/tokens", "201", "alice"),
        ("GET", "/tokens", "401", "-"),
        ("GET", "/[redacted]", "404", "-"),
    ]
    assert fields[0]["conn"] == fields[1]["conn"] == fields[3]["conn"] != fields[2]["conn"]
    assert tokend.requests("POST") == [lines[1]]
    assert tokend.requests(path="/tokens?") == [lines[0]]


def test_one_log_line_per_accepted_connection(tokend):
    alice = Client(tokend, tokend.add_user("alice"))
    for _ in range(10):
        alice.get("/tokens")
    assert tokend.connections() == 1
    requests.get(tokend.url + "/tokens", timeout=10)
    assert tokend.connections() == 2
    matches = [tokend.CONNECTION_LINE.match(line) for line in tokend.log_lines()]
    numbers = [int(match.group("conn")) for match in matches if match]
    assert numbers == [1, 2]


def test_log_never_contains_a_token_text(tokend):
    texts = [tokend.add_user("alice")]
    alice = Client(tokend, texts[0])
    made = [alice.create(60) for _ in range(3)]
    texts += [token["token"] for token in made]
    alice.get("/tokens?with_token=1")
    alice.get(f"/token/{made[0]['id']}")
    alice.post(f"/revoke/{made[1]['id']}")
    Client(tokend, made[1]["token"]).get("/tokens")
    alice.post("/tokens", headers={"Idempotency-Key": "k"})
    alice.post("/tokens", headers={"Idempotency-Key": "k"})
    alice.get("/tokens?token=" + texts[0])
    alice.get("/" + texts[0])
    tokend.stop()
    log = "\n".join(tokend.log_lines())
    for text in texts:
        for part in text.split("."):
            assert part not in log


def test_log_shows_no_path_segment_or_query_the_api_does_not_know(tokend):
    alice = Client(tokend, tokend.add_user("alice"))
    made = alice.create(60)
    text = made["token"]
    encoded = "%65" + text[1:]
    alice.get("/token/" + encoded)
    alice.get("/tokens/" + text.split(".", 1)[1])
    alice.get("/tokens?with_token=" + encoded)
    alice.get("/nope/" + encoded + "/" + made["id"])
    alice.get(f"/token/{made['id']}?with_token=1")
    log = "\n".join(tokend.log_lines())
    for part in text.split("."):
        assert part[1:] not in log
    paths = [tokend.REQUEST_LINE.match(line).group("path") for line in tokend.requests()]
    assert paths[-5:] == [
        "/token/[redacted]",
        "/tokens/[redacted]",
        "/tokens?[redacted]",
        f"/[redacted]/[redacted]/{made['id']}",
        f"/token/{made['id']}?with_token=1",
    ]


def test_log_shows_each_query_parameter_the_api_knows_and_no_other(tokend):
    alice = Client(tokend, tokend.add_user("alice"))
    made = alice.create(60)
    text = made["token"]
    alice.get(f"/tokens?limit=1&after={made['id']}")
    alice.get("/tokens?with_token=1&limit=1000")
    alice.get(f"/tokens?limit={text}&after={made['id']}")
    alice.get(f"/tokens?after={made['id']}&{text}=1")
    alice.get(f"/tokens?after={made['id'][:-1]}x")
    paths = [tokend.REQUEST_LINE.match(line).group("path") for line in tokend.requests()]
    assert paths[-5:] == [
        f"/tokens?limit=1&after={made['id']}",
        "/tokens?with_token=1&limit=1000",
        f"/tokens?[redacted]&after={made['id']}",
        f"/tokens?after={made['id']}&[redacted]",
        "/tokens?[redacted]",
    ]
    log = "\n".join(tokend.log_lines())
    for part in text.split("."):
        assert part[1:] not in log


def test_log_shows_no_method_http_does_not_know(tokend):
    alice = Client(tokend, tokend.add_user("alice"))
    text = alice.create(60)["token"]
    alice.request(text[-16:], "/tokens")
    alice.request("PATCH", "/tokens")
    methods = [tokend.REQUEST_LINE.match(line).group("method") for line in tokend.requests()]
    assert methods[-2:] == ["[redacted]", "PATCH"]
    assert text[-16:] not in "\n".join(tokend.log_lines())


@pytest.mark.parametrize("url", ["mysql://db/tokend", "sqlite:", "tokens.db"])
def test_db_that_names_no_backend_is_a_usage_error(build_dir, tmp_path, url):
    result = run_tokend(build_dir, "--data", tmp_path / "data", "--db", url, "--add-user", "alice")
    assert result.returncode == 2
    assert "sqlite:PATH or postgresql://" in result.stderr
    assert not (tmp_path / "data").exists()


def test_db_sqlite_path_keeps_the_database_there_and_the_key_in_data(build_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    state = ["--data", tmp_path / "data", "--db", f"sqlite:{elsewhere}/lab.db"]
    first = run_tokend(build_dir, *state, "--add-user", "alice")
    second = run_tokend(build_dir, *state, "--add-user", "bob")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert (elsewhere / "lab.db").is_file()
    assert not (tmp_path / "data" / "tokens.db").exists()
    assert (tmp_path / "data" / "signing-key.pem").is_file()
    database = sqlite3.connect(elsewhere / "lab.db")
    try:
        users = sorted(row[0] for row in database.execute("SELECT user FROM tokens"))
    finally:
        database.close()
    assert users == ["alice", "bob"]
