"""Predicted customer value (issue 14): BG/NBD purchases, Gamma-Gamma spend and their CLV,
fitted by maximum likelihood on a per-customer summary of transactions.

Kernels are numba (`_kernels.py`); `summary` takes and gives Polars, the models numpy arrays.
Nothing here reads the warehouse: callers pass the transactions or the summary in.

>>> fit = BgNbdFit(r=0.243, alpha=4.414, a=0.793, b=2.426)      # CDNOW, Fader et al. 2005
>>> round(float(fit.p_alive([2], [30.43], [38.86])[0]), 3)      # customer 1 of the paper
0.727
"""

from cxm.metrics.clv._bgnbd import BgNbdFit, SeriesCapped, fit_bgnbd
from cxm.metrics.clv._errors import MODEL_CODES, ModelError
from cxm.metrics.clv._gamma_gamma import GammaGammaFit, fit_gamma_gamma
from cxm.metrics.clv._read import check_calibration, read_transactions
from cxm.metrics.clv._summary import summary
from cxm.metrics.clv._value import PER_MONTH, customer_value, scores

__all__ = [
    "MODEL_CODES",
    "PER_MONTH",
    "BgNbdFit",
    "GammaGammaFit",
    "ModelError",
    "SeriesCapped",
    "check_calibration",
    "customer_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "read_transactions",
    "scores",
    "summary",
]
