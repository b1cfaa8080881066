"""docs/openapi.yaml as a checker of HTTP answers, for the test suites.

    document = ApiDocument.load()
    problems = document.check_answer("GET", "/tokens?with_token=1", 200, headers, body)

The checker is scripts/conformance's, loaded from there, so that the test
suite and the conformance suite that providers run hold answers to the same
reading of the document; the script stays one file a provider can run alone.
"""

import importlib.machinery
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "conformance"

_loader = importlib.machinery.SourceFileLoader("conformance", str(SCRIPT))
_spec = importlib.util.spec_from_loader("conformance", _loader)
conformance = importlib.util.module_from_spec(_spec)
_loader.exec_module(conformance)

ApiDocument = conformance.ApiDocument
METHODS = conformance.METHODS
