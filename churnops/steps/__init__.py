"""The work of each pipeline step, on plain file paths: `steps/<name>.py` is what `components/<name>.py` runs.

Each module has a `run(...)` that the component calls after mapping its KFP artifacts to paths,
and that tests call directly. Steps use the pure core (churnops.core), the MLflow registry layer
(churnops.registry) and storage (churnops.storage); nothing here imports pipelines, components
or the application. `runtime` is how a step process ends (no interpreter teardown).

Every step is a fresh process and each component imports only its own step module, so a module's
imports are exactly what that step pays (MLflow or scikit-learn cost 1-3 s): keep this package's
`__init__` empty and import heavy libraries only in the step modules that use them.
"""
