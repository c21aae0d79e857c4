"""Exact two-sided McNemar test on the discordant counts (n01, n10), vectorised over many cells.

Under H0 (no change in accuracy) the n01 + n10 discordant items split as Binomial(n01 + n10, 1/2);
the exact two-sided p-value is ``min(1, 2 * P[X <= min(n01, n10)])``, 1 when there is no discordant
item. Computed in log space with exact log-factorials (math.lgamma) so that cells with thousands of
flips stay accurate to ~1e-12 relative; scipy is only used in the tests as a cross-check.
"""

from __future__ import annotations

import math

import numpy as np

_LOGFACT = np.zeros(1)


def _logfact(n_max: int) -> np.ndarray:
    """log(i!) for i = 0..n_max, grown on demand and cached."""
    global _LOGFACT
    if _LOGFACT.size <= n_max:
        size = max(n_max + 1, 2 * _LOGFACT.size)
        _LOGFACT = np.array([math.lgamma(i + 1.0) for i in range(size)])
    return _LOGFACT


def mcnemar_exact(n01: np.ndarray | int, n10: np.ndarray | int) -> np.ndarray:
    """Exact two-sided McNemar p-values for arrays of discordant counts (any matching shape)."""
    b = np.asarray(n01, dtype=np.int64)
    c = np.asarray(n10, dtype=np.int64)
    shape = np.broadcast(b, c).shape
    b = np.broadcast_to(b, shape).ravel()
    c = np.broadcast_to(c, shape).ravel()
    if (b < 0).any() or (c < 0).any():
        raise ValueError("McNemar counts must be non-negative")
    n = b + c
    m = np.minimum(b, c)
    p = np.ones(n.shape, dtype=np.float64)
    todo = np.flatnonzero((n > 0) & (2 * m < n))  # b == c gives p = 1 exactly
    if todo.size:
        nt, mt = n[todo], m[todo]
        lf = _logfact(int(nt.max()))
        lengths = mt + 1
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        seg = np.repeat(np.arange(todo.size), lengths)
        i = np.arange(int(lengths.sum())) - starts[seg]
        ns = nt[seg]
        logpmf = lf[ns] - lf[i] - lf[ns - i] - ns * math.log(2.0)
        # the pmf increases up to n/2, so each segment's largest term is its last one (i = m)
        lmax = logpmf[starts + mt]
        s = np.add.reduceat(np.exp(logpmf - lmax[seg]), starts)
        p[todo] = np.minimum(1.0, np.exp(math.log(2.0) + lmax + np.log(s)))
    return p.reshape(shape)
