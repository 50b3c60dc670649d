"""When the customer says it happened: absolute and relative times in a ticket, resolved.

A ticket's "since this morning" or "last Friday" only means something against the moment the
ticket arrived, so every mention is resolved against ``received_at`` (an aware datetime) and
never against a clock: the same ticket always gives the same times. The decision tree uses
the result to line the customer's story up with payments, notices and usage.

A mention is an interval: ``start`` and ``end`` (exclusive); ``end`` is None for a point in
time ("14:05", "an hour ago"). Phrases with "since" run up to ``received_at``. Parts of the day
follow common usage: morning 06–12, afternoon 12–18, evening 18–22, night 22–06, in the
timezone of ``received_at`` unless the text names one. A date without a year is the latest such
date not after the ticket (a ticket of 27 November speaking of "Dec 20" means last December).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from quotadesk.errors import InputError


@dataclass(frozen=True, slots=True)
class TimeMention:
    """A time the customer mentioned: the words, and the interval they resolve to.

    ``offset`` is where ``text`` starts in the searched string, so a caller can quote it.
    """

    text: str
    start: datetime
    end: datetime | None
    offset: int = 0


_MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        "january jan enero janeiro janvier janv januar jänner gennaio januari",
        "february feb febrero fevereiro fev février fevrier févr fevr februar febbraio febbr februari",
        "march mar marzo março marco mars märz marz maret",
        "april apr abril abr avril avr aprile",
        "may mayo maio mai maggio mei",
        "june jun junio junho juin juni giugno",
        "july jul julio julho juillet juil juli luglio lug",
        "august aug agosto août aout agustus",
        "september sep sept septiembre setiembre setembro septembre settembre",
        "october oct octubre outubro octobre oktober ottobre okt",
        "november nov noviembre novembro novembre novemb",
        "december dec diciembre dic dezembro dez décembre decembre dezember dicembre desember",
    ),
    start=1,
):
    for _n in _names.split():
        _MONTHS.setdefault(_n, _i)
_MONTH_ALT = "|".join(sorted((re.escape(n) for n in _MONTHS), key=len, reverse=True))

_WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        "monday mon lunes lundi montag lunedi lunedì senin",
        "tuesday tue tues martes mardi dienstag martedi martedì selasa",
        "wednesday wed miercoles miércoles mercredi mittwoch mercoledi mercoledì rabu",
        "thursday thu thur thurs jueves jeudi donnerstag giovedi giovedì kamis",
        "friday fri viernes sexta-feira vendredi freitag venerdi venerdì jumat",
        "saturday sabado sábado samedi samstag sabato sabtu",
        "sunday domingo dimanche sonntag domenica",
    )
):
    for _n in _names.split():
        _WEEKDAYS.setdefault(_n, _i)
_WEEKDAY_ALT = "|".join(sorted((re.escape(n) for n in _WEEKDAYS), key=len, reverse=True))

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "couple of": 2, "a couple of": 2, "couple": 2, "few": 3, "a few": 3, "several": 3,
}  # fmt: skip
_NUM_ALT = r"\d{1,3}|a\s+couple\s+of|couple\s+of|a\s+few|few|several|" + "|".join(
    k for k in _NUMBERS if " " not in k
)
_UNIT = {"minute": 60, "min": 60, "mins": 60, "hour": 3600, "hr": 3600, "hrs": 3600, "day": 86400,
         "week": 7 * 86400, "month": 30 * 86400}  # fmt: skip

_TZ: dict[str, tzinfo] = {
    "utc": UTC, "gmt": UTC, "z": UTC,
    "pst": timezone(timedelta(hours=-8)), "pdt": timezone(timedelta(hours=-7)),
    "mst": timezone(timedelta(hours=-7)), "mdt": timezone(timedelta(hours=-6)),
    "cst": timezone(timedelta(hours=-6)), "cdt": timezone(timedelta(hours=-5)),
    "est": timezone(timedelta(hours=-5)), "edt": timezone(timedelta(hours=-4)),
    "bst": timezone(timedelta(hours=1)), "cet": timezone(timedelta(hours=1)),
    "cest": timezone(timedelta(hours=2)), "ist": timezone(timedelta(hours=5, minutes=30)),
    "jst": timezone(timedelta(hours=9)), "brt": timezone(timedelta(hours=-3)),
    "wib": timezone(timedelta(hours=7)),
}  # fmt: skip
_TZ_ALT = r"(?:utc|gmt|z|[a-z]{3,4}t?|[+\-]\d{2}:?\d{2})"

_PARTS = {
    "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 22), "night": (22, 30),
    "noon": (12, 13), "lunch": (12, 14), "midnight": (0, 1),
}  # fmt: skip

_TIME = r"(?P<hh>[01]?\d|2[0-3])(?::(?P<mm>[0-5]\d)(?::(?P<ss>[0-5]\d))?\s*(?P<ap>[ap]\.?m\.?)?|\s*(?P<ap2>[ap]\.?m\.?))"
_TZ_OPT = r"(?:\s*(?P<tz>utc|gmt|z|pst|pdt|mst|mdt|cst|cdt|est|edt|bst|cet|cest|ist|jst|brt|wib|[+\-]\d{2}:?\d{2})\b)?"


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What a rule needs to resolve a match: the ticket's moment and its local midnight."""

    now: datetime
    today: datetime  # 00:00 of received_at's day, in its timezone
    since: bool = False  # the mention follows "since"/"from": it runs up to now


Handler = Callable[["re.Match[str]", _Ctx], tuple[datetime, datetime | None] | None]


def _day(ctx: _Ctx, d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=ctx.now.tzinfo)


def _tz(name: str | None, ctx: _Ctx) -> tzinfo:
    if not name:
        return ctx.now.tzinfo or UTC
    key = name.lower()
    if key in _TZ:
        return _TZ[key]
    m = re.fullmatch(r"([+\-])(\d{2}):?(\d{2})", key)
    if m:
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(delta if m.group(1) == "+" else -delta)
    return ctx.now.tzinfo or UTC


def _clock(m: re.Match[str]) -> time | None:
    hh = int(m.group("hh"))
    mm = int(m.group("mm") or 0)
    ss = int(m.group("ss") or 0)
    ap = (m.group("ap") or m.group("ap2") or "").replace(".", "").lower()
    if ap:
        if not 1 <= hh <= 12:
            return None
        hh = hh % 12 + (12 if ap == "pm" else 0)
    return time(hh, mm, ss)


def _num(word: str) -> int:
    w = re.sub(r"\s+", " ", word.lower())
    return int(w) if w.isdigit() else _NUMBERS.get(w, 1)


def _infer_year(ctx: _Ctx, month: int, day: int) -> date | None:
    """The latest date with this month and day not after the ticket (one day of slack for zones)."""
    limit = ctx.now.date() + timedelta(days=1)
    for year in (ctx.now.year, ctx.now.year - 1):
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if d <= limit:
            return d
    return None


def _whole_day(ctx: _Ctx, d: date | None) -> tuple[datetime, datetime | None] | None:
    if d is None:
        return None
    start = _day(ctx, d)
    return start, start + timedelta(days=1)


def _iso(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    try:
        d = date(int(m.group("y")), int(m.group("mo")), int(m.group("d")))
    except ValueError:
        return None
    if m.group("hh") is None:
        return _whole_day(ctx, d)
    clock = _clock(m)
    if clock is None:
        return None
    return datetime.combine(d, clock, tzinfo=_tz(m.group("tz"), ctx)), None


def _month_day(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    month = _MONTHS[m.group("mon").lower().rstrip(".")]
    day = int(m.group("d"))
    if m.group("y"):
        try:
            d: date | None = date(int(m.group("y")), month, day)
        except ValueError:
            return None
    else:
        d = _infer_year(ctx, month, day)
    if d is None:
        return None
    if m.groupdict().get("hh"):
        clock = _clock(m)
        if clock is None:
            return None
        at = datetime.combine(d, clock, tzinfo=_tz(m.group("tz"), ctx))
        return at, (ctx.now if ctx.since else None)
    whole = _whole_day(ctx, d)
    return (whole[0], ctx.now) if whole and ctx.since else whole


def _numeric_date(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    if m.group("a2"):
        a, b, sep = int(m.group("a2")), int(m.group("b2")), "/"
    else:
        a, b, sep = int(m.group("a")), int(m.group("b")), m.group("sep")
    # "03.11.2026" and "03-11" are European (day first); "11/03" is read month first unless impossible.
    day_first = sep in ".-" or a > 12
    day, month = (a, b) if day_first else (b, a)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    y = m.group("y")
    if y:
        year = int(y) + (2000 if len(y) == 2 else 0)
        try:
            return _whole_day(ctx, date(year, month, day))
        except ValueError:
            return None
    return _whole_day(ctx, _infer_year(ctx, month, day))


def _clock_only(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    clock = _clock(m)
    if clock is None:
        return None
    tz = _tz(m.group("tz"), ctx)
    local_today = ctx.now.astimezone(tz).date()
    at = datetime.combine(local_today, clock, tzinfo=tz)
    if at > ctx.now + timedelta(minutes=5):
        at -= timedelta(days=1)  # "at 23:10" in a ticket sent at 09:00 means last night
    return at, None


def _part_of_day(ctx: _Ctx, d: date, part: str) -> tuple[datetime, datetime]:
    lo, hi = _PARTS[part]
    base = _day(ctx, d)
    return base + timedelta(hours=lo), base + timedelta(hours=hi)


def _relative_day(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    word = m.group("rel").lower()
    today = ctx.now.date()
    yesterday_words = {"yesterday", "ayer", "ontem", "gestern", "ieri", "kemarin"}
    d = today - timedelta(days=1) if word in yesterday_words else today
    if word in {"day before yesterday", "anteayer", "anteontem", "avant-hier", "vorgestern"}:
        d = today - timedelta(days=2)
    part = (m.group("part") or "").lower()
    if part:
        start, end = _part_of_day(ctx, d, part)
    else:
        start, end = _day(ctx, d), _day(ctx, d) + timedelta(days=1)
    if ctx.since or end > ctx.now:
        end = ctx.now
    return start, end


def _this_part(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    start, end = _part_of_day(ctx, ctx.now.date(), m.group("part").lower())
    if start > ctx.now:
        return None
    return start, (ctx.now if ctx.since or end > ctx.now else end)


def _last_night(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    start = ctx.today - timedelta(hours=4)  # 20:00 the day before, through 06:00
    end = ctx.today + timedelta(hours=6)
    return start, (ctx.now if ctx.since or end > ctx.now else end)


def _earlier_today(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    return ctx.today, ctx.now


def _weekday(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    target = _WEEKDAYS[m.group("wd").lower().rstrip(".")]
    today = ctx.now.date()
    back = (today.weekday() - target) % 7
    if m.group("last") and back == 0:
        back = 7
    d = today - timedelta(days=back)
    part = (m.group("part") or "").lower()
    if part:
        start, end = _part_of_day(ctx, d, part)
    else:
        start, end = _day(ctx, d), _day(ctx, d) + timedelta(days=1)
    return start, (ctx.now if ctx.since or end > ctx.now else end)


def _ago(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    n = _num(m.group("n"))
    unit = m.group("unit").lower().rstrip("s") or "s"
    seconds = _UNIT.get(unit, _UNIT.get(unit + "s", 60)) * n
    at = ctx.now - timedelta(seconds=seconds)
    if unit in {"minute", "min", "hour", "hr"}:
        return at, None
    if unit == "day":
        return _whole_day(ctx, at.date())
    start = _day(ctx, at.date())
    return start, (ctx.now if ctx.since else None)


def _past_span(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    word = m.group("n") or m.group("n2")
    n = _num(word) if word else 1
    unit = m.group("unit").lower().rstrip("s")
    seconds = _UNIT.get(unit, 86400) * n
    return ctx.now - timedelta(seconds=seconds), ctx.now


def _calendar(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    which, unit = m.group("which").lower(), m.group("unit").lower()
    today = ctx.now.date()
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        if which == "this":
            return _day(ctx, monday), ctx.now
        start = _day(ctx, monday - timedelta(days=7))
        return start, (ctx.now if ctx.since else start + timedelta(days=7))
    if unit == "month":
        first = today.replace(day=1)
        if which == "this":
            return _day(ctx, first), ctx.now
        prev = (first - timedelta(days=1)).replace(day=1)
        return _day(ctx, prev), (ctx.now if ctx.since else _day(ctx, first))
    # year
    jan1 = date(today.year, 1, 1)
    if which == "this":
        return _day(ctx, jan1), ctx.now
    return _day(ctx, date(today.year - 1, 1, 1)), (ctx.now if ctx.since else _day(ctx, jan1))


def _month_name(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime | None] | None:
    month = _MONTHS[m.group("mon").lower()]
    year = ctx.now.year if month <= ctx.now.month else ctx.now.year - 1
    start = datetime(year, month, 1, tzinfo=ctx.now.tzinfo)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=ctx.now.tzinfo)
    return start, (ctx.now if ctx.since or end > ctx.now else end)


# "since …" is looked for just before a match rather than inside every pattern: a leading
# optional group would stop the regex engine from skipping ahead to a possible first word.
_SINCE = ""
_SINCE_BEFORE = re.compile(r"(?i)\b(?:since|from|starting|desde|depuis|seit|dal|dalla|sejak)\s+$")
_PART = r"(?P<part>morning|afternoon|evening|night|noon)"

_RULES: tuple[tuple[re.Pattern[str], Handler], ...] = tuple(
    (re.compile(p, re.I), h)
    for p, h in (
        (
            r"\b(?P<y>20\d\d)-(?P<mo>[01]?\d)-(?P<d>[0-3]?\d)(?:[T ]"
            + _TIME
            + r"(?:\.\d+)?"
            + _TZ_OPT
            + r")?"
            r"(?![\d])",
            _iso,
        ),
        (
            _SINCE + r"\b(?:(?:on|at)\s+)?(?P<mon>" + _MONTH_ALT + r")\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\b"
            r"(?:,?\s+(?P<y>20\d\d))?(?:,?\s+(?:at\s+)?" + _TIME + _TZ_OPT + r")?",
            _month_day,
        ),
        (
            _SINCE
            + r"\b(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|º|°)?\.?\s+(?:(?:of|de|di)\s+)?(?P<mon>"
            + _MONTH_ALT
            + r")\b\.?(?:,?\s+(?:(?:of|de)\s+)?(?P<y>20\d\d))?",
            _month_day,
        ),
        (
            _SINCE
            + r"(?<![\d/.\-:$€£])(?:(?P<a>[0-3]?\d)(?P<sep>[/.\-])(?P<b>[0-3]?\d)(?P=sep)(?P<y>20\d\d|\d\d)"
            r"|(?!24/7)(?P<a2>[01]?\d)/(?P<b2>[0-3]?\d))(?![\d/.\-:,]\d|[\d/])",
            _numeric_date,
        ),
        (
            r"\b(?:(?:since|from|at|around|about|approx\.?|~)\s*)?(?<![\d:.])"
            + _TIME
            + _TZ_OPT
            + r"(?![\d:])",
            _clock_only,
        ),
        (
            _SINCE + r"\b(?P<rel>day\s+before\s+yesterday|yesterday|today|anteayer|anteontem|avant-hier"
            r"|vorgestern|ayer|ontem|gestern|ieri|kemarin|hoy|hoje|aujourd'hui|heute|oggi|hari\s+ini)"
            r"(?:\s+(?:in\s+the\s+)?" + _PART + r")?\b",
            _relative_day,
        ),
        (_SINCE + r"\b(?:this|earlier\s+this)\s+" + _PART + r"\b", _this_part),
        (_SINCE + r"\b(?:last|yesterday)\s+night\b|\b(?P<x>overnight)\b", _last_night),
        (r"\b(?:earlier|sometime)\s+today\b", _earlier_today),
        (
            _SINCE + r"\b(?:(?P<last>last|past|previous)\s+|on\s+)?(?P<wd>" + _WEEKDAY_ALT + r")\b\.?"
            r"(?:\s+" + _PART + r")?",
            _weekday,
        ),
        (
            _SINCE + r"\b(?P<n>" + _NUM_ALT + r")\s+(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?)"
            r"\s+ago\b",
            _ago,
        ),
        (
            r"\b(?:(?:(?:for|in|over|during)\s+the\s+(?:past|last)|past)\s+(?:(?P<n>" + _NUM_ALT + r")\s+)?"
            r"|(?:for\s+(?:the\s+)?(?:past\s+|last\s+)?|last\s+)(?P<n2>" + _NUM_ALT + r")\s+)"
            r"(?P<unit>minutes?|hours?|days?|weeks?|months?)\b",
            _past_span,
        ),
        (_SINCE + r"\b(?P<which>this|last|previous)\s+(?P<unit>week|month|year)\b", _calendar),
        (
            _SINCE + r"\b(?:(?:in|during)\s+)?(?P<mon>january|february|march|april|june|july|august|september"
            r"|october|november|december)\b(?!\s+\d)",
            _month_name,
        ),
    )
)
# A ticket with no digit and none of these words has no time in it; checking a set of words is
# much cheaper than running every rule over a long paste.
_QUICK_WORDS = (
    frozenset(
        [
            "ago",
            "yesterday",
            "today",
            "tonight",
            "morning",
            "afternoon",
            "evening",
            "night",
            "overnight",
            "noon",
            "midnight",
            "week",
            "month",
            "year",
            "since",
            "ayer",
            "ontem",
            "gestern",
            "ieri",
            "kemarin",
            "hoy",
            "hoje",
            "aujourd",
            "heute",
            "oggi",
            "ini",
        ]
    )
    | frozenset(_MONTHS)
    | frozenset(_WEEKDAYS)
)
_WORD_RE = re.compile(r"[^\W\d_]+")
_DIGIT_RE = re.compile(r"\d")


def _may_have_times(text: str) -> bool:
    if _DIGIT_RE.search(text):
        return True
    return not _QUICK_WORDS.isdisjoint(_WORD_RE.findall(text.lower()))


def find_times(text: str, received_at: datetime) -> tuple[TimeMention, ...]:
    """Every time mention in ``text``, resolved against ``received_at``, in order of appearance."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise InputError("must be timezone-aware", "received_at")
    if not text or not _may_have_times(text):
        return ()
    ctx = _Ctx(received_at, datetime.combine(received_at.date(), time(0), tzinfo=received_at.tzinfo))
    found: list[tuple[int, int, datetime, datetime | None]] = []
    for rx, handler in _RULES:
        for m in rx.finditer(text):
            if m.end() - m.start() < 2:
                continue
            start = m.start()
            before = _SINCE_BEFORE.search(text, max(0, start - 12), start)
            if before:
                start = before.start()
            c = replace(ctx, since=bool(before))
            try:
                resolved = handler(m, c)
            except (ValueError, OverflowError, KeyError):
                resolved = None
            if resolved is not None:
                found.append((start, m.end(), resolved[0], resolved[1]))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    out: list[TimeMention] = []
    last_end = -1
    for start, end, t0, t1 in found:
        if start < last_end:
            continue
        out.append(TimeMention(text[start:end].strip(), t0, t1, start))
        last_end = end
    return tuple(out)


_WHEN_CUES = re.compile(
    r"(?i)\b(?:on|since|from|until|le|el|am|seit|ab|desde|depuis|dia|no dia|do dia)\s+(?:the\s+)?"
    r"\d{1,2}(?:st|nd|rd|th|er|\.)?(?!\d|[.,:]\d|\s*(?:%|x\b|[a-z]*\s?(?:requests?|calls?|users?|pages?|keys?"
    r"|usd|eur|dollars?|euros?|k\b)))"
    r"|\bthe \d{1,2}(?:st|nd|rd|th)\b"
    r"|\b(?:week-?ends?|fin de semana|fim de semana|wochenende|overnight|over night|last night|tonight"
    r"|this (?:week|month)|last (?:week|month)|esta semana|este m[eê]s|ce mois|cette semaine|diesen monat"
    r"|letzte woche|la semaine derni[eè]re|el mes pasado|o m[eê]s passado|le mois dernier|letzten monat"
    r"|(?:depuis|d[eè]s) hier|hier (?:soir|matin|apr[eè]s-midi))\b"
    r"|(?:昨日|今日|今朝|昨夜|昨晩|一昨日|先週|今週|先月|今月|\d{1,2}月\d{1,2}日|昨天|今天|前天|早上|今早|昨晚|凌晨"
    r"|上周|本周|这周|上个月|这个月|本月|\d{1,2}号)"
)
"""Cues of when, beyond what ``find_times`` resolves: a day of the month, a weekend, a CJK day word."""


def mentions_when(text: str) -> bool:
    """A cue of when that ``find_times`` does not resolve to an interval ("on the 3rd", "over the
    weekend", "昨日から", "这个月"); with ``find_times``, the ticket says when."""
    return bool(_WHEN_CUES.search(text))


def says_when(text: str, received_at: datetime) -> bool:
    """Does the text say when something happened?"""
    return mentions_when(text) or bool(find_times(text, received_at))
