"""The usage log condensed into dense hourly and daily arrays the detectors read.

A handful of Ibis aggregations (hour × key, day × key × model, first sightings of models,
keys and IPs) turn millions of rows into arrays of a few thousand cells; the detectors
then work on those arrays in Python and numpy, so their logic does not depend on the
engine, and only drill-downs into a suspect window (``window_stats``, ``novel_usage``)
go back to the rows.

Time is indexed in whole UTC hours and days since the epoch; arrays start at the first
day with usage (at most ``LOOKBACK_DAYS`` before ``as_of``) and end at ``as_of``'s day.
Failing requests (status >= 400) are kept apart: providers do not bill them, so they
must not dilute tokens per request or the price mix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from quotadesk.usage import engine
from quotadesk.usage.records import UsageData

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Arr = npt.NDArray[np.int64]
else:
    Arr = Any

LOOKBACK_DAYS = 400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hour_of(when: datetime) -> int:
    return int((when - EPOCH).total_seconds() // 3600)


def day_of(when: datetime) -> int:
    return int((when - EPOCH).total_seconds() // 86400)


def at_hour(index: int) -> datetime:
    return EPOCH + timedelta(hours=index)


def at_day(index: int) -> datetime:
    return EPOCH + timedelta(days=index)


@dataclass(frozen=True, eq=False)
class Hourly:
    """Per-hour arrays for one key (or the whole account): all requests, failing ones, cost, tokens."""

    requests: Arr
    failed: Arr
    cost: Arr
    tokens: Arr


@dataclass(frozen=True, eq=False)
class Daily:
    """Per-day arrays for one model or key. Token and request counts are of successful requests."""

    requests: Arr
    failed: Arr
    input: Arr
    output: Arr
    cached: Arr
    cost: Arr

    @property
    def tokens(self) -> Arr:
        return self.input + self.output + self.cached


@dataclass(frozen=True, slots=True)
class IpSeen:
    """When an IP first and last called, how many requests and how much it cost."""

    first: datetime
    last: datetime
    requests: int
    cost_nanos: int


@dataclass(frozen=True, eq=False)
class Profile:
    """The log as dense arrays from ``day0`` (epoch days) for ``n_days`` days up to ``as_of``."""

    data: UsageData
    as_of: datetime
    day0: int
    n_days: int
    total: Hourly
    by_key: dict[str, Hourly]
    models: dict[str, Daily]
    keys: dict[str, Daily]
    model_first: dict[str, datetime] = field(default_factory=dict)
    key_first: dict[str, datetime] = field(default_factory=dict)
    ips: dict[str, IpSeen] = field(default_factory=dict)
    bucket_hours: int = 1
    """24 when every row sits at midnight (a daily export), else 1."""
    key_models_of: Callable[[str], dict[str, Daily]] | None = None
    _key_models: dict[str, dict[str, Daily]] = field(default_factory=dict, repr=False)

    def models_of_key(self, key_id: str) -> dict[str, Daily]:
        """Per-day arrays of each model one key used, built on first ask (most keys never are:
        a key's own model mix matters only when the account's mix hides its swap)."""
        if key_id not in self._key_models:
            self._key_models[key_id] = self.key_models_of(key_id) if self.key_models_of else {}
        return self._key_models[key_id]

    @property
    def hour0(self) -> int:
        return self.day0 * 24

    @property
    def n_hours(self) -> int:
        return self.n_days * 24

    def day_total(self) -> Daily:
        """All models together, per day."""
        return _sum_daily(list(self.models.values()), self.n_days)

    def hour_index(self, when: datetime) -> int:
        return hour_of(when) - self.hour0

    def day_index(self, when: datetime) -> int:
        return day_of(when) - self.day0


def build_profile(data: UsageData, as_of: datetime) -> Profile | None:
    """Aggregate ``data`` up to ``as_of``; None when no row falls in the lookback window."""
    import ibis
    import numpy as np

    if data.table is None:
        return None
    t = data.table
    since = as_of - timedelta(days=LOOKBACK_DAYS)
    scoped = t.filter((t.ts <= as_of) & (t.ts >= since))
    secs = engine.epoch_seconds(data.con, scoped.ts)
    base = scoped.mutate(h=(secs // 3600).cast("int64"), bad=scoped.status >= 400)
    # Arrow, not Python rows: tens of thousands of cells convert to numpy in a few
    # milliseconds, where building Python tuples of them cost as much as the query.
    fetched = data.to_pyarrow(
        base.group_by(["h", "key_id", "model", "bad"]).aggregate(
            requests=ibis._.requests.sum(),
            inp=ibis._.input_tokens.sum(),
            out=ibis._.output_tokens.sum(),
            cached=ibis._.cached_tokens.sum(),
            cost=ibis._.cost_nanos.sum(),
            first=secs.min(),
        )
    )
    if not fetched.num_rows:
        return None
    h_abs = _numbers(fetched, "h")
    day0 = int(h_abs.min()) // 24
    n_days = day_of(as_of) - day0 + 1
    n_hours = n_days * 24
    hi = h_abs - day0 * 24
    bad = fetched.column("bad").to_numpy(zero_copy_only=False).astype(bool)
    cols = {c: _numbers(fetched, c) for c in ("requests", "inp", "out", "cached", "cost")}
    tokens = cols["inp"] + cols["out"] + cols["cached"]

    def hourly_of(mask: Any) -> Hourly:
        out = Hourly(*(np.zeros(n_hours, dtype=np.int64) for _ in range(4)))
        idx = hi[mask]
        np.add.at(out.requests, idx, cols["requests"][mask])
        np.add.at(out.failed, idx, np.where(bad[mask], cols["requests"][mask], 0))
        np.add.at(out.cost, idx, cols["cost"][mask])
        np.add.at(out.tokens, idx, np.where(bad[mask], 0, tokens[mask]))
        return out

    key_names, key_codes = _codes(fetched, "key_id")
    model_names, model_codes = _codes(fetched, "model")
    total = hourly_of(np.ones(len(hi), dtype=bool))
    by_key = {name: hourly_of(key_codes == i) for i, name in _sorted_names(key_names)}

    di = hi // 24
    dbad = bad

    def daily_of(mask: Any) -> Daily:
        out = Daily(*(np.zeros(n_days, dtype=np.int64) for _ in range(6)))
        idx = di[mask]
        good = ~dbad[mask]
        np.add.at(out.requests, idx, np.where(good, cols["requests"][mask], 0))
        np.add.at(out.failed, idx, np.where(good, 0, cols["requests"][mask]))
        np.add.at(out.input, idx, np.where(good, cols["inp"][mask], 0))
        np.add.at(out.output, idx, np.where(good, cols["out"][mask], 0))
        np.add.at(out.cached, idx, np.where(good, cols["cached"][mask], 0))
        np.add.at(out.cost, idx, cols["cost"][mask])
        return out

    models = {name: daily_of(model_codes == i) for i, name in _sorted_names(model_names)}
    keys = {name: daily_of(key_codes == i) for i, name in _sorted_names(key_names)}
    first = fetched.column("first").to_numpy(zero_copy_only=False).astype(np.float64)
    model_first = _firsts(model_names, model_codes, first)
    key_first = _firsts(key_names, key_codes, first)
    ips = _ips(data, scoped)
    active_days = len(np.unique(h_abs // 24))
    bucket = 24 if active_days >= 3 and bool((h_abs % 24 == 0).all()) else 1

    def key_models_of(key_id: str) -> dict[str, Daily]:
        if key_id not in key_names:
            return {}
        own = key_codes == key_names.index(key_id)
        masks = ((name, own & (model_codes == j)) for j, name in _sorted_names(model_names))
        return {name: daily_of(mask) for name, mask in masks if mask.any()}

    return Profile(
        data, as_of, day0, n_days, total, by_key, models, keys, model_first, key_first, ips, bucket, key_models_of
    )


def _numbers(table: Any, name: str) -> Any:
    import numpy as np

    return table.column(name).to_numpy(zero_copy_only=False).astype(np.int64)


def _codes(table: Any, name: str) -> tuple[list[str], Any]:
    """A text column as (distinct values, the index of each row's value among them)."""
    import numpy as np
    import pyarrow.compute as pc

    # A null (a foreign file's missing model) is a value of its own, "", not a code of -2**63.
    encoded = pc.fill_null(table.column(name), "").combine_chunks().dictionary_encode()
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    return names, encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _sorted_names(names: list[str]) -> list[tuple[int, str]]:
    return sorted(enumerate(names), key=lambda pair: pair[1])


def _firsts(names: list[str], codes: Any, firsts: Any) -> dict[str, datetime]:
    """Earliest epoch second per name, as UTC datetimes."""
    import numpy as np

    best = np.full(len(names), np.inf)
    np.minimum.at(best, codes, firsts)
    return {name: datetime.fromtimestamp(float(best[i]), UTC) for i, name in _sorted_names(names)}


def _ips(data: UsageData, t: Any) -> dict[str, IpSeen]:
    import ibis

    rows = data.fetch(
        t.filter(t.ip != "")
        .group_by("ip")
        .aggregate(
            first=ibis._.ts.min(),
            last=ibis._.ts.max(),
            requests=ibis._.requests.sum(),
            cost=ibis._.cost_nanos.sum(),
        )
    ).columns()
    return {
        ip: IpSeen(f.astimezone(UTC), last.astimezone(UTC), int(r), int(c))
        for ip, f, last, r, c in zip(
            rows["ip"], rows["first"], rows["last"], rows["requests"], rows["cost"], strict=True
        )
    }


def _sum_daily(parts: Sequence[Daily], n_days: int) -> Daily:
    import numpy as np

    if not parts:
        return Daily(*(np.zeros(n_days, dtype=np.int64) for _ in range(6)))
    return Daily(
        sum((p.requests for p in parts), np.zeros(n_days, dtype=np.int64)),
        sum((p.failed for p in parts), np.zeros(n_days, dtype=np.int64)),
        sum((p.input for p in parts), np.zeros(n_days, dtype=np.int64)),
        sum((p.output for p in parts), np.zeros(n_days, dtype=np.int64)),
        sum((p.cached for p in parts), np.zeros(n_days, dtype=np.int64)),
        sum((p.cost for p in parts), np.zeros(n_days, dtype=np.int64)),
    )


# --- drill-downs into a window --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What the rows of one window show beyond the hourly arrays.

    ``repeated_share``: requests whose body (fingerprint) was sent 3+ times within the same
    minute, over requests with a fingerprint — retries without backoff. ``fingerprinted``:
    requests that carry a fingerprint at all (bucketed exports have none).
    """

    requests: int
    failed: int
    cost_nanos: int
    fingerprinted: int
    repeated: int
    repeated_bodies: int
    max_repeats: int
    distinct_bodies: int
    request_ids: tuple[str, ...]
    statuses: tuple[tuple[int, int], ...]
    first: datetime | None = None
    last: datetime | None = None

    @property
    def repeated_share(self) -> float:
        return self.repeated / self.fingerprinted if self.fingerprinted else 0.0


def window_stats(data: UsageData, start: datetime, end: datetime, key_ids: Sequence[str] = ()) -> WindowStats:
    """Rows in ``[start, end)`` (of ``key_ids`` when given), drilled into in three queries."""
    import ibis

    t = data.table
    w = t.filter((t.ts >= start) & (t.ts < end))
    if key_ids:
        w = w.filter(w.key_id.isin(list(key_ids)))
    by_status = data.fetch(
        w.group_by("status").aggregate(
            n=ibis._.requests.sum(), cost=ibis._.cost_nanos.sum(), first=ibis._.ts.min(), last=ibis._.ts.max()
        )
    ).dicts()
    fp = w.filter(w.fingerprint != "").mutate(minute=w.ts.truncate("m"))
    per_minute = fp.group_by(["fingerprint", "minute"]).aggregate(n=ibis._.requests.sum())
    per_body = per_minute.group_by("fingerprint").aggregate(
        n=ibis._.n.sum(), rep=ibis.ifelse(ibis._.n >= 3, ibis._.n, 0).sum()
    )
    rep = data.fetch(
        per_body.aggregate(
            total=ibis._.n.sum(),
            repeated=ibis._.rep.sum(),
            bodies=ibis._.count(),
            repeated_bodies=ibis.ifelse(ibis._.n >= 3, 1, 0).sum(),
            max_n=ibis._.n.max(),
        )
    ).one()
    sample = data.fetch(
        w.filter(w.request_id != "")
        .order_by([ibis.desc(w.status >= 400), w.ts, w.request_id])
        .select("request_id")
        .limit(20)
    ).column(0)
    statuses = sorted(((int(r["status"]), int(r["n"])) for r in by_status), key=lambda x: (-x[1], x[0]))
    firsts = [r["first"] for r in by_status if r["first"] is not None]
    lasts = [r["last"] for r in by_status if r["last"] is not None]
    return WindowStats(
        requests=sum(n for _, n in statuses),
        failed=sum(n for code, n in statuses if code >= 400),
        cost_nanos=sum(int(r["cost"] or 0) for r in by_status),
        fingerprinted=int(rep["total"] or 0),
        repeated=int(rep["repeated"] or 0),
        repeated_bodies=int(rep["repeated_bodies"] or 0),
        max_repeats=int(rep["max_n"] or 0),
        distinct_bodies=int(rep["bodies"] or 0),
        request_ids=tuple(str(r) for r in sample),
        statuses=tuple(statuses),
        first=min(firsts).astimezone(UTC) if firsts else None,
        last=max(lasts).astimezone(UTC) if lasts else None,
    )


@dataclass(frozen=True, slots=True)
class NovelUsage:
    """Usage from IPs (or models/keys) never seen before a given time, hour by hour of day."""

    first: datetime
    last: datetime
    requests: int
    cost_nanos: int
    by_hour_of_day: tuple[int, ...]
    models: tuple[tuple[str, int], ...]
    keys: tuple[tuple[str, int], ...]
    request_ids: tuple[str, ...]


def novel_usage(
    data: UsageData,
    start: datetime,
    end: datetime,
    *,
    ips: Sequence[str] = (),
    models: Sequence[str] = (),
    keys: Sequence[str] = (),
) -> NovelUsage | None:
    """Rows in ``[start, end]`` from any of ``ips``, ``models`` or ``keys``."""
    import ibis

    t = data.table
    cond = None
    for column, values in (("ip", ips), ("model", models), ("key_id", keys)):
        if values:
            c = t[column].isin(list(values))
            cond = c if cond is None else cond | c
    if cond is None:
        return None
    w = t.filter((t.ts >= start) & (t.ts <= end) & cond)
    cells = data.fetch(
        w.group_by(hod=w.ts.hour(), model=w.model, key_id=w.key_id).aggregate(
            n=ibis._.requests.sum(), cost=ibis._.cost_nanos.sum(), first=ibis._.ts.min(), last=ibis._.ts.max()
        )
    ).dicts()
    if not cells:
        return None
    by_hour = [0] * 24
    per_model: dict[str, int] = {}
    per_key: dict[str, int] = {}
    for c in cells:
        by_hour[int(c["hod"])] += int(c["n"])
        per_model[c["model"]] = per_model.get(c["model"], 0) + int(c["n"])
        per_key[c["key_id"]] = per_key.get(c["key_id"], 0) + int(c["n"])
    sample = data.fetch(
        w.filter(w.request_id != "").order_by([w.ts, w.request_id]).select("request_id").limit(20)
    ).column(0)
    return NovelUsage(
        first=min(c["first"] for c in cells).astimezone(UTC),
        last=max(c["last"] for c in cells).astimezone(UTC),
        requests=sum(by_hour),
        cost_nanos=sum(int(c["cost"] or 0) for c in cells),
        by_hour_of_day=tuple(by_hour),
        models=tuple(sorted(per_model.items(), key=lambda x: (-x[1], x[0]))),
        keys=tuple(sorted(per_key.items(), key=lambda x: (-x[1], x[0]))),
        request_ids=tuple(str(r) for r in sample),
    )


def period_sums(data: UsageData, spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
    """(cost nanos, requests) of each ``[start, end)`` span, in one pass over the rows."""
    import ibis

    if data.table is None or not spans:
        return [(0, 0) for _ in spans]
    t = data.table
    aggs: dict[str, Any] = {}
    for i, (start, end) in enumerate(spans):
        inside = (t.ts >= start) & (t.ts < end)
        aggs[f"c{i}"] = ibis.ifelse(inside, t.cost_nanos, 0).sum()
        aggs[f"r{i}"] = ibis.ifelse(inside, t.requests, 0).sum()
    row = data.fetch(t.aggregate(**aggs)).one()
    return [(int(row[f"c{i}"] or 0), int(row[f"r{i}"] or 0)) for i in range(len(spans))]
