"""rerobotsfs(1), OPTIONS: the driver over HTTPS, with a private CA (cafile=), the wrong one, and insecure.

Each test makes its own certificate authority with the openssl command and
has rerobots-tokend serve HTTPS with a certificate that CA signed.
"""

import errno
import os
import subprocess

import pytest

from fsutil import write_token_file


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory, name):
    """A CA's certificate and key: (cert, key) paths."""
    cert, key = directory / f"{name}-ca.pem", directory / f"{name}-ca.key"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            f"/CN={name} test CA", "-keyout", key, "-out", cert)
    return cert, key


def make_server_cert(directory, ca, names):
    """A server certificate for names (subjectAltName values) signed by ca: (cert, key)."""
    ca_cert, ca_key = ca
    cert, key, request = directory / "server.pem", directory / "server.key", directory / "server.csr"
    extensions = directory / "server.ext"
    extensions.write_text(f"subjectAltName={','.join(names)}\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=rerobots-tokend", "-keyout",
            key, "-out", request)
    openssl("x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
            "-days", "1", "-extfile", extensions, "-out", cert)
    return cert, key


@pytest.fixture
def https(tokend_factory, tmp_path):
    """rerobots-tokend over HTTPS with a certificate for 127.0.0.1 from a CA of its own."""
    ca = make_ca(tmp_path, "good")
    cert, key = make_server_cert(tmp_path, ca, ["IP:127.0.0.1"])
    service = tokend_factory("--tls-cert", cert, "--tls-key", key)
    assert service.url.startswith("https://127.0.0.1:")
    service.ca = ca[0]
    return service


def one_line(result):
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cafile_mounts_and_works(https, mount_factory):
    token = https.add_user("alice")
    mount = mount_factory(token=token, origin=False,
                          options=[f"origin={https.url}", f"cafile={https.ca}"])
    assert os.listdir(mount.path) == [mount.id]
    os.mkdir(mount.path / "1h")
    (made,) = set(os.listdir(mount.path)) - {mount.id}
    assert (mount.path / made / "jwt.txt").read_text().count(".") == 2
    os.rmdir(mount.path / made)
    assert os.listdir(mount.path) == [mount.id]
    assert len(https.requests("POST", "/tokens")) == 1


@pytest.mark.parametrize("trust", ["wrong-ca", "system-store"])
def test_an_untrusted_certificate_mounts_nothing(https, run_driver, tmp_path, trust):
    token_file = write_token_file(tmp_path / "jwt.txt", https.add_user("alice"))
    options = f"origin={https.url},token_file={token_file}"
    if trust == "wrong-ca":
        options += f",cafile={make_ca(tmp_path, 'other')[0]}"
    result = run_driver("-o", options)
    assert result.returncode != 0
    line = one_line(result)
    assert "cannot verify the TLS certificate" in line and https.url in line
    assert https.requests() == []


def test_a_certificate_for_another_name_mounts_nothing(tokend_factory, run_driver, tmp_path):
    ca = make_ca(tmp_path, "good")
    cert, key = make_server_cert(tmp_path, ca, ["DNS:api.example.org"])
    service = tokend_factory("--tls-cert", cert, "--tls-key", key)
    token_file = write_token_file(tmp_path / "jwt.txt", service.add_user("alice"))
    result = run_driver("-o", f"origin={service.url},token_file={token_file},cafile={ca[0]}")
    assert result.returncode != 0
    assert "cannot verify the TLS certificate" in one_line(result)
    assert service.requests() == []


def test_a_cafile_that_is_missing_mounts_nothing(https, run_driver, tmp_path):
    token_file = write_token_file(tmp_path / "jwt.txt", https.add_user("alice"))
    missing = tmp_path / "missing.pem"
    result = run_driver("-o", f"origin={https.url},token_file={token_file},cafile={missing}")
    assert result.returncode != 0
    line = one_line(result)
    assert str(missing) in line and os.strerror(errno.ENOENT) in line


def test_insecure_works_and_warns(https, mount_factory):
    token = https.add_user("alice")
    mount = mount_factory(token=token, origin=False, options=[f"origin={https.url}", "insecure"])
    mount.expect(r"^rerobotsfs: TLS verification is off \(insecure\)")
    assert os.listdir(mount.path) == [mount.id]
    assert (mount.path / mount.id / "jwt.txt").read_text() == token + "\n"
    warnings = [line for line in mount.stderr_lines() if "TLS verification is off" in line]
    assert len(warnings) == 1
