"""The application: the `churnops` CLI, local runs on KFP's local runner, compiling pipelines,
platform config, the local MLflow server and the views operators read.

The only layer (with churnops.schedules, the GitOps sync) that imports `pipelines` and
`components`; nothing below imports it.
"""
