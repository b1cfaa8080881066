"""A fault-injecting HTTP proxy between rerobotsfs and rerobots-tokend, for the tests.

    proxy = FaultProxy(tokend.url)            # listens on 127.0.0.1, proxy.url
    proxy.set_fault("status", method="POST", path="/tokens", status=500)
    ...                                       # a mkdir now gets EIO
    assert proxy.count("POST", "/tokens") == 1
    proxy.clear()                             # requests pass unchanged again

It reads each request off the client's connection (keep-alive is kept),
decides whether the one fault set applies (method and path prefix match, and
it has not yet been applied `times` times), and either forwards the request
on a fresh connection to the service and relays the answer, or does what the
fault says. Faults that forward first (drop, cut, body, huge) let the service
act on the request, so the tests can check what a lost or mangled answer
leaves behind (one token per mkdir, however often it is retried).

    delay   hold the request `seconds`; forward it only if the client still waits
    drop    forward, then close the connection without answering
    reset   close the connection with a TCP RST, nothing forwarded
    cut     forward, send the headers and half of the body, then close
    status  answer `status` with {"error_message": ...} and `headers`, nothing forwarded
    body    forward, then answer the service's status with `body` instead of its own
    huge    forward, then answer 200 with a chunked body of `size` bytes of blanks
    unpaged forward without the query's `limit` and `after`, as a server that does not
            page answers: the whole listing
"""

import json
import select
import socket
import struct
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

HEADER_MAX = 64 * 1024
# Far more than the driver keeps of any answer (64 MiB), sent as it is read.
HUGE_SIZE = 80 * 1024 * 1024
HUGE_CHUNK = 1024 * 1024
REASONS = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway"}


class Request:
    def __init__(self, line, headers, body):
        self.line = line
        self.method, self.path = line.split(" ")[:2]
        self.headers = headers
        self.body = body

    def without_paging(self):
        """This request with `limit` and `after` left out of its query."""
        parts = urlsplit(self.path)
        query = urlencode([(name, value) for name, value in parse_qsl(parts.query)
                           if name not in ("limit", "after")])
        path = parts.path + ("?" + query if query else "")
        line = " ".join([self.method, path, *self.line.split(" ")[2:]])
        return Request(line, self.headers, self.body)

    def encode(self, drop_headers=()):
        kept = [(name, value) for name, value in self.headers
                if name.lower() not in drop_headers]
        head = self.line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in kept)
        return (head + "\r\n").encode("latin-1") + self.body


class Response:
    def __init__(self, head, body):
        self.head = head
        self.body = body
        self.status = int(head.split(b" ", 2)[1])


class Fault:
    def __init__(self, kind, method=None, path=None, times=None, **params):
        self.kind = kind
        self.method = method
        self.path = path
        self.times = times
        self.params = params
        self.applied = 0

    def matches(self, request):
        if self.method is not None and request.method != self.method:
            return False
        if self.path is not None and not request.path.startswith(self.path):
            return False
        return self.times is None or self.applied < self.times


def _read_head(reader):
    """The start line and headers up to the blank line; None at a clean end of stream."""
    lines = []
    size = 0
    while True:
        line = reader.readline(HEADER_MAX)
        if not line:
            if lines:
                raise ConnectionError("connection closed inside a header")
            return None
        size += len(line)
        if size > HEADER_MAX:
            raise ConnectionError("header too large")
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.rstrip(b"\r\n").decode("latin-1"))


def _header(headers, name):
    for key, value in headers:
        if key.lower() == name:
            return value.strip()
    return None


def _read_exactly(reader, length):
    data = reader.read(length)
    if len(data) != length:
        raise ConnectionError("connection closed inside a body")
    return data


def _read_chunked(reader):
    """A chunked body, decoded."""
    body = b""
    while True:
        size = int(reader.readline(HEADER_MAX).split(b";")[0], 16)
        if size == 0:
            while reader.readline(HEADER_MAX) not in (b"\r\n", b"\n", b""):
                pass
            return body
        body += _read_exactly(reader, size)
        reader.readline(HEADER_MAX)


def read_request(reader):
    lines = _read_head(reader)
    if lines is None:
        return None
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
    length = int(_header(headers, "content-length") or 0)
    return Request(lines[0], headers, _read_exactly(reader, length) if length else b"")


def read_response(reader, method):
    """The answer to one request, its body decoded and its head rewritten with a Content-Length."""
    lines = _read_head(reader)
    if lines is None:
        raise ConnectionError("the service closed the connection without answering")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
    status = int(lines[0].split(" ", 2)[1])
    if method == "HEAD" or status in (204, 304) or status < 200:
        body = b""
    elif (_header(headers, "transfer-encoding") or "").lower() == "chunked":
        body = _read_chunked(reader)
    elif _header(headers, "content-length") is not None:
        body = _read_exactly(reader, int(_header(headers, "content-length")))
    else:
        body = reader.read()
    kept = [(name, value) for name, value in headers
            if name.lower() not in ("content-length", "transfer-encoding", "connection")]
    head = lines[0] + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in kept)
    if status not in (204, 304) and status >= 200:
        head += f"Content-Length: {len(body)}\r\n"
    return Response(head.encode("latin-1"), body)


def answer(status, body, headers=()):
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n"
    head += "Content-Type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


def _reset(connection):
    """Closes with an RST instead of a FIN: SO_LINGER on, with a zero timeout."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def _client_gone(connection):
    """Whether the client closed its end (readable with nothing to read)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class FaultProxy:
    def __init__(self, upstream_url):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._fault = None
        self._seen = []
        self._closing = False
        self._connections = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def set_fault(self, kind, method=None, path=None, times=None, **params):
        """Faults the requests with this method and path prefix (None: any), `times` at most."""
        with self._lock:
            self._fault = Fault(kind, method, path, times, **params)

    def clear(self):
        with self._lock:
            self._fault = None

    def count(self, method=None, path=None):
        """How many requests with this method and path prefix arrived, faulted or not."""
        with self._lock:
            return sum(1 for seen_method, seen_path in self._seen
                       if (method is None or seen_method == method)
                       and (path is None or seen_path.startswith(path)))

    def paths(self, method=None, path=None):
        """The paths, query included, of the requests with this method and path prefix, in order."""
        with self._lock:
            return [seen_path for seen_method, seen_path in self._seen
                    if (method is None or seen_method == method)
                    and (path is None or seen_path.startswith(path))]

    def faulted(self):
        """How many requests the current fault was applied to."""
        with self._lock:
            return 0 if self._fault is None else self._fault.applied

    def close(self):
        self._closing = True
        # close() alone does not wake a thread blocked in accept(); shutdown() does.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def _accept(self):
        while not self._closing:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _take_fault(self, request):
        with self._lock:
            self._seen.append((request.method, request.path))
            fault = self._fault
            if fault is None or not fault.matches(request):
                return None
            fault.applied += 1
            return fault

    def _forward(self, request, drop_headers=()):
        with socket.create_connection(self.upstream, timeout=30) as upstream:
            upstream.sendall(request.encode(drop_headers))
            with upstream.makefile("rb") as reader:
                return read_response(reader, request.method)

    def _serve(self, connection):
        try:
            with connection.makefile("rb") as reader:
                while True:
                    request = read_request(reader)
                    if request is None:
                        break
                    fault = self._take_fault(request)
                    if fault is None:
                        response = self._forward(request)
                        connection.sendall(response.head + b"\r\n" + response.body)
                    elif not self._apply(fault, request, connection):
                        break
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)
            try:
                connection.close()
            except OSError:
                pass

    def _apply(self, fault, request, connection):
        """Does what the fault says; returns whether the connection stays open."""
        params = fault.params
        # A cached ETag would get a 304 without a body, and a body is what most faults mangle.
        drop = ("if-none-match",)
        if fault.kind == "delay":
            deadline = time.monotonic() + params["seconds"]
            while time.monotonic() < deadline and not self._closing:
                time.sleep(0.05)
            if _client_gone(connection):
                return False
            response = self._forward(request)
            connection.sendall(response.head + b"\r\n" + response.body)
            return True
        if fault.kind == "drop":
            self._forward(request)
            return False
        if fault.kind == "reset":
            _reset(connection)
            return False
        if fault.kind == "cut":
            response = self._forward(request, drop)
            connection.sendall(response.head + b"\r\n" + response.body[: len(response.body) // 2])
            return False
        if fault.kind == "status":
            message = params.get("message", f"injected {params['status']}")
            body = json.dumps({"error_message": message}).encode()
            connection.sendall(answer(params["status"], body, params.get("headers", ())))
            return True
        if fault.kind == "body":
            response = self._forward(request, drop)
            connection.sendall(answer(response.status, params["body"]))
            return True
        if fault.kind == "huge":
            self._forward(request, drop)
            self._send_huge(connection, params.get("size", HUGE_SIZE))
            return False
        if fault.kind == "unpaged":
            response = self._forward(request.without_paging())
            connection.sendall(response.head + b"\r\n" + response.body)
            return True
        raise ValueError(f"unknown fault {fault.kind}")

    @staticmethod
    def _send_huge(connection, size):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % HUGE_CHUNK + b" " * HUGE_CHUNK + b"\r\n"
        for _ in range(size // HUGE_CHUNK):
            connection.sendall(chunk)
        connection.sendall(b"0\r\n\r\n")
