"""Untrusted text as it may be stored and shown: one rule, for every service."""

from __future__ import annotations


def one_line(text: str) -> str:
    """Untrusted text made one printable line: control characters (NUL, line breaks, ESC) become
    spaces. PostgreSQL refuses NUL; a line break breaks an e-mail header or a log cell."""
    return "".join(c if c.isprintable() else " " for c in text)
