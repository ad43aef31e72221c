"""An independent reference for the validator's scoring, written from the public description of
upstream's scoring (NumPy arrays, properscoring's `crps_ensemble`, `ndarray.sum`, `np.median`,
`np.percentile`), used by tests/crps_python.rs and tests/score_cli.rs to check our kernels and the
`score` command bit for bit. It shares no code with the Rust side: the intervals are written out
again here from the competition description.
"""
import numpy as np
from properscoring import crps_ensemble

# Today's scoring intervals (name, seconds) per prompt length, and the 1 h prompt's volatility
# blocks (name, seconds, weight = 5.25 / (3 * blocks)).
INTERVALS = {
    86400: [("5min", 300), ("30min", 1800), ("3hour", 10800), ("24hour_abs", 86400)],
    3600: [("1min", 60), ("2min", 120), ("5min", 300), ("15min", 900), ("30min", 1800), ("60min_abs", 3600)]
    + [(f"0_{5 * k}min_gaps", 300 * k) for k in range(1, 13)],
}
VOL = {3600: [("vol_60min", 3600, 5.25 / 3), ("vol_15min", 900, 5.25 / 12), ("vol_5min", 300, 5.25 / 36)]}


def price_score(sim, real, increment, intervals):
    rows = []
    total = 0.0
    gaps = 0.0
    for name, seconds in intervals:
        steps = int(seconds / increment)
        absolute, gap = name.endswith("_abs"), name.endswith("_gaps")
        if absolute:
            while len(real[::steps]) == 1 and steps > 1:
                steps -= 1
        if (sim == 0).any():
            return -1.0, [["error", 0.0]]

        def moves(p):
            at = p[:, ::steps]
            if gap:
                at = at[:, :2]
            return at[:, 1:] if absolute else (np.diff(at, axis=1) / at[:, :-1]) * 10_000

        s, r = moves(sim), moves(real.reshape(1, -1))[0]
        if r.shape[0] == 0:
            continue
        observed = ~np.isnan(r)
        label = np.where(observed, np.cumsum(observed & np.concatenate(([True], ~observed[:-1]))) - 1, -1)
        acc = 0.0
        for block in np.unique(label):
            if block == -1:
                continue
            cols = np.flatnonzero(label == block)
            vals = np.array([crps_ensemble(r[t], s[:, t]) for t in cols])
            if absolute:
                vals = vals / real[-1] * 10_000
            acc += float(vals.sum())
        total += acc
        if gap:
            gaps += acc
            continue
        rows.append([name, acc])
    if gaps > 0:
        rows.append(["Gaps", gaps])
    rows.append(["Overall", total])
    return total, rows


def volatility(paths, steps):
    returns = (np.diff(paths, axis=1) / paths[:, :-1]) * 10_000
    n = returns.shape[1] // steps
    blocks = returns[:, : n * steps].reshape(returns.shape[0], n, steps)
    ok = np.sum(~np.isnan(blocks), axis=2) >= 2
    out = np.full(ok.shape, np.nan)
    out[ok] = np.nanstd(blocks[ok], axis=1, ddof=1)
    return out


def total_score(sim, real, increment, intervals, vol):
    """One miner's total and its detail rows [name, crps]; -1 and an error row for a zero price."""
    price, rows = price_score(sim, real, increment, intervals)
    if not vol or price == -1.0:
        return price, rows
    vol_total, vol_rows = 0.0, []
    for name, seconds, weight in vol:
        steps = int(seconds / increment)
        s, r = volatility(sim, steps), volatility(real.reshape(1, -1), steps)[0]
        seen = np.flatnonzero(~np.isnan(r))
        if seen.size == 0:
            continue
        crps_sum = float(sum(crps_ensemble(r[b], s[:, b]) for b in seen))
        vol_total += weight * crps_sum
        vol_rows.append([name, crps_sum])
    vol_rows.append(["Vol", vol_total])
    total = price + vol_total
    return total, [x for x in rows if x[0] != "Overall"] + vol_rows + [["Overall", total]]


def prompt_scores(raw, form):
    """(scores, fill, lowest, capped) as the validator normalises a prompt, or None (all missed)."""
    raw = np.asarray(raw, dtype=float)
    if np.all(raw == -1):
        return None
    valid = raw[raw != -1]
    if form == "p90-cap":
        p90 = np.percentile(valid, 90)
        capped = np.where(raw == -1, p90, np.minimum(raw, p90))
        lowest = np.min(capped)
        return capped - lowest, p90, lowest, [False] * len(raw)
    median = float(np.median(valid))
    capped = np.zeros(raw.shape, dtype=bool)
    scores = raw
    if median > 0:
        cap = median * 10.0
        capped = scores > cap
        scores = np.minimum(scores, cap)
    uncapped = scores[(scores != -1) & ~capped]
    p95 = np.percentile(uncapped if uncapped.size else scores[scores != -1], 95)
    filled = np.where(scores == -1, p95, scores)
    lowest = np.min(filled)
    return filled - lowest, p95, lowest, [bool(c) for c in capped]
