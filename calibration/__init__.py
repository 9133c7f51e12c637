"""Relative-weight calibration from historical cases (相对权重测算) and hospital performance indices (绩效指数).

The names below load on first use, so that a command reading only :mod:`calibration.indices`'s column
labels (``drg validate`` writing an XLSX) does not import scikit-learn with the estimator.
"""

from importlib import import_module

_WHERE = {"TABLE_COLUMNS": "calibration.estimator", "RelativeWeightCalibrator": "calibration.estimator",
          "EXCLUSIONS": "calibration.history", "CalibrationError": "calibration.history"}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'calibration' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)


__all__ = ["EXCLUSIONS", "TABLE_COLUMNS", "CalibrationError", "RelativeWeightCalibrator"]
