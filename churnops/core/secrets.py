"""Credentials inside URIs: what is secret in one, and the same URI with it taken out (pure, no I/O).

A dataset or input URI may carry a credential: `https://user:password@host/file.csv` (basic auth) or a
signed URL's query (`?X-Amz-Signature=...`, `?token=...`). Such a URI still works where it is *read*,
but only its `redact`ed form is ever recorded: logged, tagged, stored as an MLflow param or dataset
source, written to a step's output or printed. The userinfo is dropped; the value of every query
parameter whose name looks like a credential becomes REDACTED (its name stays, so the URI is still
recognisable). `scrub` takes a URI's secrets out of any text (an error message that quotes it).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
# Query parameter names that carry a credential: AWS/GCS/Azure signed URLs (X-Amz-Signature,
# X-Amz-Credential, X-Amz-Security-Token, X-Goog-Signature, sig, se/sp are not secrets), tokens, keys.
CREDENTIAL_NAME = re.compile(r"(?i)(token|signature|^sig$|credential|secret|passw(or)?d|^pwd$|key|auth|session)")


def _split(uri: str):
    try:
        return urlsplit(uri)
    except ValueError:  # e.g. an invalid IPv6 host: treat as opaque text
        return None


def has_userinfo(uri: str) -> bool:
    parts = _split(uri)
    return bool(parts and parts.scheme and "@" in parts.netloc)


def credentials(uri: str) -> list[str]:
    """The secret values in `uri` (its password, the values of credential-like query parameters)."""
    parts = _split(uri)
    if parts is None or not parts.scheme:
        return []
    found = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, _, password = userinfo.partition(":")
        found.append(password or user)  # a lone user part is a token in some schemes (https://TOKEN@host)
    found += [value for name, value in parse_qsl(parts.query, keep_blank_values=True)
              if value and CREDENTIAL_NAME.search(name)]
    return [value for value in found if value and value != REDACTED]


def redact(uri: str) -> str:
    """`uri` without its userinfo and with credential-like query values REDACTED; unchanged when it has none."""
    parts = _split(uri)
    if parts is None or not credentials(uri):
        return uri
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode([(name, REDACTED if value and CREDENTIAL_NAME.search(name) else value)
                       for name, value in parse_qsl(parts.query, keep_blank_values=True)], quote_via=quote, safe="/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, *uris: str) -> str:
    """`text` with every secret of `uris` (as written and percent-decoded) replaced by REDACTED."""
    for uri in uris:
        text = text.replace(uri, redact(uri))
        for secret in credentials(uri):
            for form in {secret, unquote(secret), quote(unquote(secret), safe="")}:
                if len(form) >= 3:  # never blank out a one-letter "password" everywhere in a message
                    text = text.replace(form, REDACTED)
    return text
