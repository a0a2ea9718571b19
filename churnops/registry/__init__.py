"""The MLflow layer: where the tracking store is, logging models, registering versions, moving
aliases with an audit trail, and finding and loading registered models.

Tag and alias names come from churnops.names; decisions (what to promote) from churnops.core.
"""
