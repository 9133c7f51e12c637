"""Payer audit screens (医保智能审核): split admissions, low-standard admissions, upcoding, bed-blocking,
duplicates and dumping over a month of grouped cases; risk scores, a review queue and money at stake.

Screens are configured in ``audit/screens.toml`` (:mod:`audit.screens.config`); flags have the
fixed schema of :mod:`audit.screens.flags`; :class:`Screener` runs them and
:func:`review_queue` picks the cases for review.  Appeals of flags are modelled in :mod:`audit.appeals`.
"""

from audit.screens.cases import ScreenInputError
from audit.screens.config import BUNDLED_SCREENS, load_screens
from audit.screens.engine import ScreenResult, Screener
from audit.screens.flags import FLAG_SCHEMA
from audit.screens.money import RateError, Rates
from audit.screens.queue import QUEUE_SCHEMA, review_queue

__all__ = ["BUNDLED_SCREENS", "FLAG_SCHEMA", "QUEUE_SCHEMA", "RateError", "Rates", "ScreenInputError", "ScreenResult",
           "Screener", "load_screens", "review_queue"]
