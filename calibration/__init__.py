"""Relative-weight calibration from historical cases (issue 7; not built yet)."""
