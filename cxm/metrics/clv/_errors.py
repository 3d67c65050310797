"""The one error the CLV models raise, with its stable codes (kept here, not in cxm/errors.py)."""

from __future__ import annotations

from cxm.errors import CxmError

#: Every code a CLV summary, fit or prediction can fail with: the rule it stands for.
MODEL_CODES: dict[str, str] = {
    "bad_input": "Frequencies are whole numbers >= 0; recency and age are finite, 0 <= recency "
    "<= age; a customer with no repeat purchase has recency 0; arrays have one length.",
    "bad_spend": "A repeat buyer's average spend is a finite number above 0.",
    "too_few_customers": "A fit needs at least two customers (two repeat buyers for spend).",
    "no_observation_time": "Some customer must have been watched for a while (age above 0): "
    "with everyone first seen on the last day there is nothing to fit.",
    "no_repeat_buyers": "Some customer must have bought again after their first purchase day.",
    "infinite_mean_spend": "The spend model needs q > 1, or the average spend is infinite.",
    "no_customers": "Some customer must have bought by the calibration end.",
    "bad_period": "The holdout ends after the calibration; dates exist in the calendar.",
    "unknown_column": "Customer, date and amount columns must be in the data.",
    "bad_value": "Dates in the date column are YYYY-MM-DD; amounts are numbers.",
    "bad_unit": "Time is counted in weeks (W) or days (D).",
    "calibration_outside_purchases": "The calibration and holdout ends lie between the first "
    "and the last purchase day of the data.",
}


class ModelError(CxmError):
    """A CLV summary or model that cannot be computed; nothing was returned.

    >>> str(ModelError("no_repeat_buyers", "none of the 3 customers bought twice"))
    'none of the 3 customers bought twice [no_repeat_buyers].'
    """

    def __init__(self, code: str, message: str):
        if code not in MODEL_CODES:
            raise ValueError(f"{code!r} is not in MODEL_CODES; add it with its rule")
        self.code, self.reason = code, message
        super().__init__(f"{message} [{code}].")
