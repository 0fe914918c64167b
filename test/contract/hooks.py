"""Schemathesis hooks for Kitsune's contract test (schemathesis.toml).

filter_case: the document cannot say that the Idempotency-Key header and metadata.idempotency_key
must agree when a command carries both (they are in different parts of the request, and JSON Schema
sees one part at a time). The server refuses a mismatch with 400 idempotency_key_mismatch, as docs/api.md
says; a request that breaks only this rule is not one the document calls valid, so it is left out.

map_case: the document's example event id names no event, and an unknown id is `pending` until
`?wait=` runs out, so every case built on the example held its answer for the whole wait (up to
30 s; 150 s of the run's 170). scripts/contract.ts sends one command before the run and passes
the example id and that event's id; a case that names the example names that event instead. Every
other id the phases generate is sent as generated.
"""

import os

import schemathesis

_example_id = os.environ.get("KITSUNE_CONTRACT_EXAMPLE_EVENT_ID")
_seeded_id = os.environ.get("KITSUNE_CONTRACT_SEEDED_EVENT_ID")


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


@schemathesis.hook
def map_case(context, case):
    parameters = case.path_parameters
    if _example_id and _seeded_id and isinstance(parameters, dict) and parameters.get("id") == _example_id:
        case.path_parameters = {**parameters, "id": _seeded_id}
    return case
