"""Generates isotime_py311.tsv: `json(input) TAB int(datetime.fromisoformat(input).timestamp())`
(or `None` where Python raises), with CPython 3.11 under TZ=UTC. Deterministic (seeded).
Run: TZ=UTC python3 tests/data/gen_isotime.py > tests/data/isotime_py311.tsv"""
import json, os, random, sys, time
from datetime import datetime

assert sys.version_info[:2] == (3, 11), sys.version
os.environ["TZ"] = "UTC"
time.tzset()
rng = random.Random(50)

def ts(s):
    try:
        return str(int(datetime.fromisoformat(s).timestamp()))
    except Exception:
        return "None"

fixed = [
    "", "not a date", "2025-03-04", "2025-03-04T12:34:00+00:00", "2025-03-04T12:34:00Z",
    "2025-03-04 12:34:00", "20250304T123400Z", "2025-W10-2T12:34:00+00:00", "2025W102",
    "2025W10", "2025-W10", "2025-W10-2", "2025-W53-1", "2026-W53-1", "2020-W53-7", "0000-W01-1",
    "0000-W53-7", "0001-W01-1", "9999-W52-5", "9999-W52-6", "9999-W52-7", "0001-01-01",
    "0001-01-01T00:00:00+00:00", "0001-01-02T00:00:00", "9999-12-31T23:59:59.999999",
    "9999-12-31T23:59:59.999999+00:00", "9999-12-31T23:59:59.999999-23:59",
    "1969-12-31T23:59:59.5+00:00", "1969-12-31T23:59:59.5", "1969-12-31T23:59:59.999999Z",
    "2025-03-04T12:34:56:78", "2025-03-04T1234567", "2025-03-04T12+05:99",
    "2025-03-04T12+23:59:59.9999999", "2025-03-04T12+24:00", "2025-03-04T12-24:00",
    "2025-03-04T12-23:59:59.999999", "2025-03-04t12:34", "2025-03-04T12:34z",
    "2025-03-04\u00e912:34", "2025-03-04\u20ac12:34", "2025-03-04\U0001F600" "12:34",
    "2025-03-04T", "2025-03-04T1", "2025-03-04T12:34:56.", "2025-W01-", "2025-03",
    "2025-02-29", "2024-02-29", "2025-02-30T00:00:00+00:00", "2025-03-04T24:00:00",
    "2025-03-04T23:60", "2025-03-04T23:59:60", "2025-03-04T12,5", "2025-03-04T12.5",
    "2025-03-04T12:34:59,999999+00:00", "2025-03-04T12:34Z ", "2025-03-04 ", " 2025-03-04",
    "2025-03-04T12:34:00+0530", "2025-03-04T12:34:00+05", "2025-03-04T12:34:00+5",
    "2025-03-04T12:34:00+05:30:15", "2025-03-04T12:34:00+05:30:15.123456789",
    "2025-03-04T12:34:00-00:00:00.000001", "2025-03-04T12:34:00+00:00Z", "2025-03-04T12:34:00ZZ",
    "2025-03-04T12:34:00+", "2025-03-04T12:34:00-", "2025-03-04TZ", "2025-03-04T+00:00",
    "2025-03-04T12Z", "2025-03-04T1234Z", "2025-03-04T123456Z", "2025-03-04T123456.789Z",
    "2025-03-04T12:3456", "2025-03-04T1234:56", "20250304", "2025030", "2025-0304",
    "202503-04", "2025-03-04T12:34:00.123+01:00", "\u0662025-03-04",
]

def rand_dt():
    y = rng.choice([1, 2, 1969, 1970, 1999, 2000, 2024, 2025, 2026, 9998, 9999, rng.randint(1, 9999)])
    mo = rng.choice([1, 2, 3, 12, 13, 0, rng.randint(1, 12)])
    d = rng.choice([1, 28, 29, 30, 31, 32, 0, rng.randint(1, 28)])
    h = rng.choice([0, 12, 23, 24, rng.randint(0, 23)])
    mi = rng.choice([0, 59, 60, rng.randint(0, 59)])
    s = rng.choice([0, 59, 60, rng.randint(0, 59)])
    return y, mo, d, h, mi, s

def frac():
    n = rng.choice([0, 0, 1, 2, 3, 6, 7, 9])
    if n == 0:
        return ""
    return rng.choice(".,") + "".join(rng.choice("0123456789") for _ in range(n))

def offset():
    k = rng.random()
    if k < 0.3:
        return ""
    if k < 0.45:
        return "Z"
    sign = rng.choice("+-")
    hh = rng.choice([0, 1, 5, 14, 23, 24, rng.randint(0, 99)])
    mm = rng.choice([0, 30, 59, 60, 99, rng.randint(0, 59)])
    ss = rng.choice([0, 15, 59, rng.randint(0, 99)])
    form = rng.choice(["h", "hm", "h:m", "hms", "h:m:s", "h:m:sf", "hmsf"])
    out = f"{hh:02d}"
    if "m" in form:
        out += (":" if ":" in form else "") + f"{mm:02d}"
    if "s" in form:
        out += (":" if ":" in form else "") + f"{ss:02d}"
    if "f" in form:
        out += frac() or ".5"
    return sign + out

def one():
    y, mo, d, h, mi, s = rand_dt()
    basic = rng.random() < 0.25
    k = rng.random()
    if k < 0.15:
        wk = rng.choice([1, 10, 52, 53, 0, 54, rng.randint(1, 53)])
        wd = rng.choice(["", str(rng.randint(0, 8))])
        date = f"{y:04d}W{wk:02d}{wd}" if basic else f"{y:04d}-W{wk:02d}" + (f"-{wd}" if wd else "")
    else:
        date = f"{y:04d}{mo:02d}{d:02d}" if basic else f"{y:04d}-{mo:02d}-{d:02d}"
    if rng.random() < 0.12:
        return date
    sep = rng.choice(["T", "T", "T", " ", "t", "_", "\u00e9", "5", "-"])
    tform = rng.choice(["h", "hm", "hms", "hms", "hms"])
    tb = basic and rng.random() < 0.7
    t = f"{h:02d}"
    if "m" in tform:
        t += ("" if tb else ":") + f"{mi:02d}"
    if "s" in tform:
        t += ("" if tb else ":") + f"{s:02d}" + frac()
    out = date + sep + t + offset()
    if rng.random() < 0.08:
        i = rng.randrange(len(out) + 1)
        out = out[:i] + rng.choice(" :-+Z.,T0W\u00a0x") + out[i:]
    if rng.random() < 0.05 and out:
        i = rng.randrange(len(out))
        out = out[:i] + out[i + 1:]
    return out

seen = set()
rows = []
for s in fixed + [one() for _ in range(6000)]:
    if s in seen:
        continue
    seen.add(s)
    rows.append(f"{json.dumps(s)}\t{ts(s)}")
print("\n".join(rows))
