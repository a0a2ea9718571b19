"""Declarative KFP schedules: pipeline versions and recurring runs reconciled from a YAML file.

config (load + validate) -> compiled (deterministic compile, content hash) -> kfp_api (observe)
-> plan (pure diff) -> apply (ordered API calls) -> report (table). `cli.main` strings them.
"""
