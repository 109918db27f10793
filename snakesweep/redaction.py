"""Credentials never leave the machine in a written file or on the console.

A tracking URI may carry a password (`http://user:password@host`) or a token in its query
(`?token=...`). `redact` replaces them with `***` in a string, or in every string of a config;
everything snakesweep writes that can hold a URI (provenance/, bundles, MLflow artifacts, the
console) goes through it. Only the running jobs see the real URI.
"""

from __future__ import annotations

import re
from typing import Any

HIDDEN = "***"
# scheme://user:password@  (the user name stays: it says whose store it is)
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):[^@/?#\s]*@")
# ?token=... &password=... : query parameters that carry a secret
_QUERY = re.compile(
    r"(?P<head>[?&;](?:[A-Za-z0-9_.-]*(?:token|secret|password|passwd|pwd|api[_-]?key|apikey"
    r"|signature|sig|credential|credentials|auth|sas|key))=)[^&;#\s'\"]*",
    re.IGNORECASE,
)


def redact(value: Any) -> Any:
    """`value` with URI passwords and secret query parameters replaced by ***: a string, or a
    copy of a dict/list with each string redacted."""
    if isinstance(value, str):
        return _QUERY.sub(rf"\g<head>{HIDDEN}", _USERINFO.sub(rf"\g<head>:{HIDDEN}@", value))
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value
