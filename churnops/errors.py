"""Errors a user can act on. Each one names the problem and the fix in one line."""


class ChurnopsError(Exception):
    """Base class: the CLI prints these as a one-paragraph error, without a traceback."""


class DatasetError(ChurnopsError):
    """The input data cannot be used (missing, empty, wrong target, too small...)."""


class TrackingError(ChurnopsError):
    """The MLflow tracking server or store cannot be reached or used."""


class RegistryError(ChurnopsError):
    """A model cannot be registered, found or moved in the MLflow Model Registry."""
