"""Credentials inside URIs (churnops.core.secrets): what is secret, the redacted form, scrubbed messages."""

from __future__ import annotations

import pytest

from churnops.core import secrets


@pytest.mark.parametrize(("uri", "found", "redacted"), [
    ("https://ann:pa%24s@host:8443/data/churn.csv", ["pa%24s"], "https://host:8443/data/churn.csv"),
    ("https://TOKEN123@host/churn.csv", ["TOKEN123"], "https://host/churn.csv"),
    ("https://bucket.s3.amazonaws.com/k.csv?X-Amz-Credential=AKIA%2F20261207&X-Amz-Date=20261207T000000Z"
     "&X-Amz-Signature=abc123&X-Amz-Security-Token=tok",
     ["AKIA/20261207", "abc123", "tok"],
     "https://bucket.s3.amazonaws.com/k.csv?X-Amz-Credential=REDACTED&X-Amz-Date=20261207T000000Z"
     "&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED"),
    ("https://acct.blob.core.windows.net/c/d.csv?sv=2024&sig=s1g", ["s1g"],
     "https://acct.blob.core.windows.net/c/d.csv?sv=2024&sig=REDACTED"),
    ("https://host/data.csv?api_key=k3y&page=2", ["k3y"], "https://host/data.csv?api_key=REDACTED&page=2"),
    ("gs://bucket/data/churn.csv", [], "gs://bucket/data/churn.csv"),
    ("/data/user:name@x/churn.csv", [], "/data/user:name@x/churn.csv"),  # a local path: no URI syntax
    ("http://[bad", [], "http://[bad"),
])
def test_credentials_and_the_redacted_uri(uri, found, redacted):
    assert secrets.credentials(uri) == found
    assert secrets.redact(uri) == redacted
    assert not secrets.credentials(secrets.redact(uri))


def test_scrub_takes_every_form_of_a_secret_out_of_a_message():
    uri = "https://ann:pa%24s%2Fword@host/churn.csv?token=t0k3n"
    message = (f"Cannot read {uri} (ClientResponseError: 401, url='https://ann:pa$s/word@host/churn.csv?token=t0k3n'); "
               "retry with pa$s/word")
    scrubbed = secrets.scrub(message, uri)
    assert "pa$s/word" not in scrubbed and "pa%24s" not in scrubbed and "t0k3n" not in scrubbed
    assert "https://host/churn.csv?token=REDACTED" in scrubbed
