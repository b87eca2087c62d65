"""Where omsctl writes: lines of text, a proto answer as JSON, and where the next page starts.
One place for every command module (omsctl/__main__.py, production.py, planning.py, materials.py)."""

from __future__ import annotations

import json
import sys

from google.protobuf import json_format


def emit(lines: list[str]) -> None:
    print("\n".join(lines))


def as_json(value) -> None:
    """A proto message, or a list of them, as JSON with the proto's own field names."""
    if isinstance(value, list):
        doc = [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in value]
    else:
        doc = json_format.MessageToDict(value, preserving_proto_field_name=True)
    print(json.dumps(doc, ensure_ascii=False, indent=2))


def more(token: str, as_json_: bool) -> None:
    """Where the next page starts: after the table, or on stderr when stdout is JSON."""
    if token:
        print(f"下一页 next page: --page-token {token}", file=sys.stderr if as_json_ else sys.stdout)
