"""Issue 16, Why 6: two first runs on a fresh embedded store raced in MLflow's schema migration.

Two forked processes (after the imports, so they really start together) released by a barrier
each connect to the same not-yet-existing SQLite store and use it, as the first step of two
`churnops train` runs would. Both must succeed, on every try.
"""

from __future__ import annotations

import multiprocessing

import mlflow

from churnops.registry.tracking import connect, embedded_tracking_uri

TRIES = 4


def first_use(uri: str, barrier, results) -> None:
    barrier.wait()
    try:
        connect(uri)
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments()
        client.search_registered_models()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 (the failure is the result)
        results.put(f"{type(exc).__name__}: {str(exc)[:200]}")


def test_two_first_runs_on_a_fresh_store_both_succeed(tmp_path):
    context = multiprocessing.get_context("fork")
    for attempt in range(TRIES):
        uri = embedded_tracking_uri(tmp_path / f"fresh-{attempt}")
        barrier, results = context.Barrier(2), context.Queue()
        workers = [context.Process(target=first_use, args=(uri, barrier, results)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert [results.get(timeout=5) for _ in workers] == ["ok", "ok"], f"try {attempt}"
