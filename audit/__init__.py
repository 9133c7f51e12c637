"""Coding validation for medical-records coders (病案首页质控): findings, explanation and what-if."""
