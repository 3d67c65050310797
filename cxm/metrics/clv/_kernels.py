"""Numba kernels: the per-customer sums of the two likelihoods, P(alive) and the series of
BG/NBD eq. 10. Plain loops over customers, run in parallel; the model maths is documented in
`_bgnbd.py` and `_gamma_gamma.py`, which call these.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_OPTS = {"parallel": True, "cache": True, "nogil": True, "error_model": "numpy"}


@nb.njit(**_OPTS)
def bgnbd_rows(r, alpha, a, b, x, tx, T, w, ix, xs, itx, txs, iT, Ts):  # pragma: no cover
    """Return the customer part of the BG/NBD log-likelihood and its gradient in r, alpha, a, b.

    Per customer: A3 + log(1 + [x > 0] exp(A4 - A3)), with A3 = -(r+x) log(alpha+T) and
    A4 = log a - log(b+x-1) - (r+x) log(alpha+t_x) (the paper's eq. 6 as a log-sum-exp).

    ``xs``, ``txs`` and ``Ts`` are the distinct values of x, t_x and T, ``ix``, ``itx`` and
    ``iT`` each row's index in them (`bgnbd_tables`): log(b+x-1), log(alpha+t_x) and
    log(alpha+T) are taken once per distinct value (about 2,000 of each for 150,000 rows,
    half the logarithms of a call), the same operations on the same numbers as per row, so
    the same bits; the loop and its sums over rows are as they were, in the same order.
    """
    lb = np.empty(xs.shape[0])
    for j in range(xs.shape[0]):
        lb[j] = math.log(b + xs[j] - 1.0)
    ltxs = np.empty(txs.shape[0])
    for j in range(txs.shape[0]):
        ltxs[j] = math.log(alpha + txs[j])
    lts = np.empty(Ts.shape[0])
    for j in range(Ts.shape[0]):
        lts[j] = math.log(alpha + Ts[j])
    ll = 0.0
    gr = 0.0
    gal = 0.0
    ga = 0.0
    gb = 0.0
    la = math.log(a)
    for i in nb.prange(x.shape[0]):
        xi = x[i]
        wi = w[i]
        rx = r + xi
        at = alpha + T[i]
        lt = lts[iT[i]]
        if xi > 0:
            atx = alpha + tx[i]
            ltx = ltxs[itx[i]]
            bx1 = b + xi - 1.0
            d = la - lb[ix[i]] + rx * math.log1p((T[i] - tx[i]) / atx)
            e = math.exp(-abs(d))
            if d > 0:
                soft = d + math.log1p(e)
                q = 1.0 / (1.0 + e)
            else:
                soft = math.log1p(e)
                q = e / (1.0 + e)
            ll += wi * (soft - rx * lt)
            gr += -wi * ((1.0 - q) * lt + q * ltx)
            gal += -wi * rx * ((1.0 - q) / at + q / atx)
            ga += wi * q / a
            gb += -wi * q / bx1
        else:
            ll += -wi * rx * lt
            gr += -wi * lt
            gal += -wi * rx / at
    return ll, gr, gal, ga, gb


def bgnbd_tables(x, tx, T):
    """Return (ix, xs, itx, txs, iT, Ts): the distinct values of each column and each row's
    index in them, what `bgnbd_rows` reads its logarithms through."""
    out = []
    for column in (x, tx, T):
        values, index = np.unique(column, return_inverse=True)
        out += [index.astype(np.int64), np.ascontiguousarray(values, dtype=np.float64)]
    return tuple(out)


@nb.njit(**_OPTS)
def log_dead_odds(r, alpha, a, b, x, tx, T, out):  # pragma: no cover - compiled
    """Fill ``out`` with log[a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)] (-inf when x = 0)."""
    la = math.log(a)
    for i in nb.prange(x.shape[0]):
        xi = x[i]
        if xi > 0:
            out[i] = (
                la
                - math.log(b + xi - 1.0)
                + (r + xi) * math.log1p((T[i] - tx[i]) / (alpha + tx[i]))
            )
        else:
            out[i] = -np.inf


@nb.njit(**_OPTS)
def purchase_factor(r, alpha, a, b, x, T, ts, tol, cap, out):  # pragma: no cover - compiled
    """Fill ``out[i, j]`` with (a+b+x-1) [1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]/(a-1).

    z = ts[j]/(alpha+T[i]+ts[j]). Through Euler's transformation this is
    (a+b+x-1) {-expm1((a-1) log1p(-z))/(a-1) - (1-z)^(a-1) S}, with
    S = sum_{k>=1} (a+b-1-r)_k (a)_{k-1} z^k / ((a+b+x-1)_k k!); the factor (a+b+x-1) is
    folded into the terms, so no term divides by it. Returns how many series hit ``cap``.
    """
    big_a = a + b - 1.0 - r
    am1 = a - 1.0
    capped = 0
    for i in nb.prange(x.shape[0]):
        c = a + b + x[i] - 1.0
        for j in range(ts.shape[0]):
            t = ts[j]
            if t <= 0.0:
                out[i, j] = 0.0
                continue
            z = t / (alpha + T[i] + t)
            l1z = math.log1p(-z)
            u = am1 * l1z
            if abs(u) < 1e-5:  # expm1(u)/u = 1 + u/2 + u^2/6 + O(u^3): the a -> 1 limit
                lead = -l1z * (1.0 + u * (0.5 + u / 6.0))
            else:
                lead = -math.expm1(u) / am1
            term = big_a * z  # (a+b+x-1) times the k = 1 term
            s = term
            k = 1
            while term != 0.0 and abs(term) > tol * abs(s):
                if k >= cap:
                    capped += 1
                    break
                term *= (big_a + k) * (a + k - 1.0) * z / ((c + k) * (k + 1.0))
                s += term
                k += 1
            out[i, j] = c * lead - math.exp(u) * s
    return capped


@nb.njit(**_OPTS)
def gamma_gamma_rows(gamma, x, m, w):  # pragma: no cover - compiled
    """Return sums over customers of w L, w x L, w/(g+mx), w x/(g+mx), with L = log(g + m x)."""
    s_l = 0.0
    s_xl = 0.0
    s_inv = 0.0
    s_xinv = 0.0
    for i in nb.prange(x.shape[0]):
        v = gamma + m[i] * x[i]
        lv = math.log(v)
        s_l += w[i] * lv
        s_xl += w[i] * x[i] * lv
        s_inv += w[i] / v
        s_xinv += w[i] * x[i] / v
    return s_l, s_xl, s_inv, s_xinv
