"""Relative-weight calibration from historical cases (相对权重测算) and hospital performance indices (绩效指数)."""

from calibration.estimator import TABLE_COLUMNS, RelativeWeightCalibrator
from calibration.history import EXCLUSIONS, CalibrationError

__all__ = ["EXCLUSIONS", "TABLE_COLUMNS", "CalibrationError", "RelativeWeightCalibrator"]
