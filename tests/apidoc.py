"""docs/openapi.yaml as a checker of HTTP answers.

    document = ApiDocument.load()
    problems = document.check_answer("GET", "/tokens?with_token=1", 200, headers, body)

An answer matches the document when its method and path name a documented
operation, its status is one the operation lists, every header the document
marks as required is there with a value of the right form, and its body is
JSON of the documented schema (or empty, where the document gives no body).
An answer to a path or method the document does not have must still carry
the error body every error has. HEAD is checked as the GET it stands for,
without a body.
"""

import copy
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import yaml

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def resolve(node, root):
    """node with every local $ref replaced by a copy of what it names (the document has no cycles)."""
    if isinstance(node, list):
        return [resolve(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        merged = {**copy.deepcopy(target), **{k: v for k, v in node.items() if k != "$ref"}}
        return resolve(merged, root)
    return {key: resolve(value, root) for key, value in node.items()}


def path_pattern(template):
    """A regular expression for a path template such as /token/{id}."""
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$")


class ApiDocument:
    def __init__(self, text):
        self.raw = yaml.safe_load(text)
        self.document = resolve(self.raw, self.raw)
        self.routes = [
            (path_pattern(template), template, item)
            for template, item in self.document.get("paths", {}).items()
        ]
        self.error_schema = self.document["components"]["schemas"]["Error"]

    @classmethod
    def load(cls, path=DOCUMENT_PATH):
        return cls(Path(path).read_text())

    def operation(self, method, path):
        """(template, operation) of a request, or (template, None) for a known path, or (None, None)."""
        method = "get" if method.upper() == "HEAD" else method.lower()
        for pattern, template, item in self.routes:
            if pattern.match(path):
                return template, item.get(method)
        return None, None

    def check_answer(self, method, url, status, headers, body):
        """Every way in which an answer departs from the document; [] when it matches.

        url is the request's path with its query, or a whole URL; headers a
        case-insensitive mapping; body the bytes received.
        """
        path = urlsplit(url).path
        template, operation = self.operation(method, path)
        where = f"{method} {path} {status}"
        if operation is None:
            if status < 400:
                return [f"{where}: the document has no {method} {path}, yet the answer is not an error"]
            return self._check_json(where, headers, body, self.error_schema)
        response = self._response(operation, status)
        if response is None:
            return [f"{where}: status {status} is not documented for {method} {template}"]
        problems = self._check_headers(where, response.get("headers", {}), headers)
        if method.upper() == "HEAD":
            if body:
                problems.append(f"{where}: an answer to HEAD has a body")
            return problems
        content = response.get("content")
        if content is None:
            if body:
                problems.append(f"{where}: the document gives no body, yet there is one")
            return problems
        schema = content["application/json"]["schema"]
        return problems + self._check_json(where, headers, body, schema)

    @staticmethod
    def _response(operation, status):
        responses = operation["responses"]
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                return responses[key]
        return None

    @staticmethod
    def _check_headers(where, documented, headers):
        problems = []
        for name, header in documented.items():
            value = headers.get(name)
            if value is None:
                if header.get("required"):
                    problems.append(f"{where}: no {name} header")
                continue
            schema = header.get("schema", {})
            if schema.get("type") == "integer":
                if not re.fullmatch(r"\d+", value):
                    problems.append(f"{where}: {name}: {value!r} is not a whole number")
                    continue
                value = int(value)
            for error in jsonschema.Draft202012Validator(schema).iter_errors(value):
                problems.append(f"{where}: {name}: {error.message}")
        return problems

    @staticmethod
    def _check_json(where, headers, body, schema):
        media_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return [f"{where}: Content-Type is {media_type or 'missing'}, not application/json"]
        try:
            value = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON"]
        validator = jsonschema.Draft202012Validator(schema)
        # Messages name the path into the body and what it broke, never the value:
        # a body may hold token texts.
        return [
            f"{where}: body{''.join(f'[{part!r}]' for part in error.absolute_path)}: "
            f"fails {error.validator} {json.dumps(error.validator_value)[:80]}"
            for error in validator.iter_errors(value)
        ]
