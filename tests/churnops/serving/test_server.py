"""churnops.serving.server without a server process: the access log's line (the process: test_serve_process.py)."""

from __future__ import annotations

import json
import logging

from churnops.serving.server import AccessJson


def test_the_access_log_is_one_json_line_per_request():
    # what uvicorn's access logger records (uvicorn/protocols/http/h11_impl.py: client, method, path, version, status)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "POST", "/v1/models/churn-classifier%3Apredict", "1.1", 200), None)
    line = AccessJson().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"time": None} == {"time": None, "method": "POST", "status": 200, "client": "127.0.0.1:5000",
                                                 "path": "/v1/models/churn-classifier:predict"}
