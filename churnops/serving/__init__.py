"""Online serving: the KServe predictor that follows a models:/NAME@ALIAS through the MLflow server.

Below app (the CLI starts it), above registry (it resolves and loads versions through it).
"""
