"""Schemathesis hooks for Kitsune's contract test (schemathesis.toml).

The document cannot say that the Idempotency-Key header and metadata.idempotency_key must agree
when a command carries both (they are in different parts of the request, and JSON Schema sees one
part at a time). The server refuses a mismatch with 400 idempotency_key_mismatch, as docs/api.md
says; a request that breaks only this rule is not one the document calls valid, so it is left out.
"""

import schemathesis


def _header_key(headers):
    for name, value in (headers or {}).items():
        if name.lower() == "idempotency-key":
            return value
    return None


@schemathesis.hook
def filter_case(context, case):
    body = case.body if isinstance(case.body, dict) else None
    metadata = body.get("metadata") if body else None
    body_key = metadata.get("idempotency_key") if isinstance(metadata, dict) else None
    header_key = _header_key(case.headers)
    return not (isinstance(body_key, str) and isinstance(header_key, str) and body_key != header_key)
