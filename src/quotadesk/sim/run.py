"""Stage scenarios in worlds and collect the case bundles they produce.

``generate(seed, count)`` picks ``count`` cases, cycling through every root cause of the
contract in a seeded order (so any 32 consecutive cases cover them all, and variants
alternate), packs them a dozen to a world, runs each world on its own SQLite file, and
returns the exported bundles with their ground truth. ``write_cases`` puts them on disk as
the scorer expects them: ``NAME.json`` and ``NAME.expected.json``.

The same seed gives the same cases: the same accounts, traffic, events, tickets and truth
(the books mint random ids and key secrets; nothing else differs).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quotadesk.errors import InputError
from quotadesk.sim.scenarios import REGISTRY, Plan
from quotadesk.sim.scenarios.common import PROVIDERS, prepaid_org, supports
from quotadesk.sim.traffic import DAY, HOUR, Stream
from quotadesk.sim.world import Case, World
from quotadesk.store.books import Books

CUSTOMERS = (
    "Brightline Labs", "Acme Robotics", "Northwind Analytics", "Papaya Health", "Quillstone", "Riverbend AI",
    "Solace Support", "Tandem Legal", "Umbra Games", "Vantage Retail", "Willow Learning", "Xylo Music",
    "Yardstick HR", "Zephyr Travel", "Atlas Freight", "Beacon Bank", "Cobalt Insights", "Driftwood Media",
    "Ember Foods", "Fjord Energy", "Granite Code", "Harbor Clinics", "Indigo Press", "Juniper Docs",
    "Kestrel Security", "Lumen Tutors", "Meridian Maps", "Nimbus Notes", "Orchid Beauty", "Pioneer Farms",
    "Quasar Research", "Redwood Realty", "Sable Fashion", "Tidal Surveys", "Upland Outdoors", "Violet Voice",
    "Wavelength Radio", "Xenon Devices", "Yonder Apps", "Zenith Insurance", "Alder Studio", "Birch Bots",
    "Cedar Translate", "Delta Dispatch", "Echo Reviews", "Fable Stories", "Gusto Kitchens", "Helix Bio",
)  # fmt: skip

BACKGROUND_MODELS = ("gpt-4o-mini", "claude-haiku", "gemini-flash", "gpt-4.1-mini", "deepseek-chat", "gpt-4o")


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())[:12]


def pick_root_causes(seed: int, count: int, only: Sequence[str] = ()) -> list[tuple[str, int]]:
    """``count`` (root cause, variant) pairs: each round covers every root cause once, in a
    seeded order; the variant is the round number (scenarios alternate their variants)."""
    roots = sorted(only) if only else sorted(REGISTRY)
    unknown = [r for r in roots if r not in REGISTRY]
    if unknown:
        raise InputError(
            f"no scenario for {', '.join(unknown)}; known: {', '.join(sorted(REGISTRY))}", "root_cause"
        )
    rng = random.Random(f"roots:{seed}")
    out: list[tuple[str, int]] = []
    rnd = 0
    while len(out) < count:
        order = list(roots)
        rng.shuffle(order)
        out.extend((r, rnd) for r in order)
        rnd += 1
    return out[:count]


def world_end(seed: int, n: int) -> datetime:
    """The world's last moment: a weekday afternoon in a month picked by the seed."""
    rng = random.Random(f"end:{seed}:{n}")
    year = 2026
    month = rng.randint(1, 12)
    day = rng.randint(3, 26)
    return datetime(year, month, day, 18, 0, tzinfo=UTC)


@dataclass
class Generated:
    """Cases produced (with their bundles), plans that produced no ticket, worlds run, time."""

    cases: list[Case] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    worlds: int = 0
    seconds: float = 0.0
    admits: int = 0


def _background(w: World, plan: Plan) -> None:
    """A healthy organization: ordinary traffic, plenty of credit, no ticket."""
    rng = plan.rng
    created = plan.latest - rng.randint(60, 500) * DAY
    org = prepaid_org(
        w,
        plan,
        created=created,
        tier=rng.choice(("tier2", "tier3")),
        credit=rng.choice(("800.00", "1500.00")),
    )
    model = rng.choice(BACKGROUND_MODELS)
    w.stream(org, Stream("prod", model, plan.latest - 30 * DAY, plan.latest + DAY, rng.randint(300, 2500),
                         input_tokens=rng.randint(500, 2000), output_tokens=rng.randint(100, 500),
                         minute=rng.randrange(0, 59)))  # fmt: skip


def build_world(
    seed: int,
    number: int,
    picks: Sequence[tuple[int, str, int]],
    books: Books,
    *,
    background: int = 0,
    ticket_prefix: str = "SIM",
    name_prefix: str = "case",
) -> World:
    """A world holding the cases ``picks`` ((index, root cause, variant)) and ``background``
    healthy organizations; not run yet."""
    end = world_end(seed, number)
    days = max(REGISTRY[root].history_days for _, root, _ in picks) if picks else 30
    w = World(books, seed * 1000 + number, end=end, daily_from=end - timedelta(days=min(days, 75) + 1))
    rng = random.Random(f"world:{seed}:{number}")
    names = list(CUSTOMERS)
    rng.shuffle(names)
    plans = []
    for i, (index, root, variant) in enumerate(picks):
        customer = names[i % len(names)]
        providers = [pr for pr in PROVIDERS if supports(pr, REGISTRY[root].needs)]
        plans.append(
            Plan(
                index=index,
                name=f"{name_prefix}{index:04d}",
                ticket_id=f"{ticket_prefix}-{seed}-{index:04d}",
                org_id=f"org_{_slug(customer)}_{index:04d}",
                customer=customer,
                provider=rng.choice(providers),
                earliest=end - 12 * DAY,
                latest=end,
                seed=seed,
                variant=variant,
            )
        )
    # Status-page incidents first, so the other cases can keep their bursts and tickets clear.
    for plan in sorted(plans, key=lambda pl: not REGISTRY[_root(picks, pl.index)].outage):
        REGISTRY[_root(picks, plan.index)].build(w, plan)
    for b in range(background):
        customer = names[(len(picks) + b) % len(names)]
        _background(
            w,
            Plan(
                index=10_000 + b,
                name=f"bg{b}",
                ticket_id="",
                org_id=f"org_{_slug(customer)}_bg{number}{b}",
                customer=customer,
                provider="generic",
                earliest=end - 12 * DAY,
                latest=end,
                seed=seed * 1000 + number,
            ),
        )
    return w


def _root(picks: Sequence[tuple[int, str, int]], index: int) -> str:
    return next(r for i, r, _ in picks if i == index)


Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class _WorldJob:
    seed: int
    number: int
    group: tuple[tuple[int, str, int], ...]
    path: str
    background: int


def _run_world(job: _WorldJob) -> tuple[list[Case], list[str], int]:
    """One world on its own SQLite file: the cases it produced, the plans that produced none,
    and how many admission calls it made. The cases come back without their ``compose``
    (a closure over the world), so they can cross a process boundary."""
    path = Path(job.path)
    if path.exists():
        path.unlink()
    books = Books.open(f"sqlite:///{path}")
    try:
        w = build_world(job.seed, job.number, job.group, books, background=job.background)
        w.run()
    finally:
        books.close()
    made = [replace(c, compose=_written) for c in w.cases if c.bundle is not None]
    names = {c.name for c in made}
    missing = [f"case{i:04d} ({root})" for i, root, _ in job.group if f"case{i:04d}" not in names]
    return made, missing, w.driver.admits


def _written(case: Case) -> dict[str, Any]:
    """The ``compose`` of a case whose ticket is already written (in its bundle)."""
    assert case.bundle is not None
    return dict(case.bundle["ticket"])


def generate(
    seed: int,
    count: int,
    *,
    per_world: int = 12,
    background: int = 0,
    only: Sequence[str] = (),
    db_dir: Path | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Generated:
    """Stage ``count`` cases in worlds of ``per_world`` (see the module docstring); ``jobs``
    worlds run at once in separate processes (each world has its own books)."""
    if count < 1:
        raise InputError("must be at least 1", "count")
    if per_world < 1:
        raise InputError("must be at least 1", "per_world")
    if jobs < 1:
        raise InputError("must be at least 1", "jobs")
    t0 = time.perf_counter()
    picks = [(i + 1, root, variant) for i, (root, variant) in enumerate(pick_root_causes(seed, count, only))]
    groups = [tuple(picks[i : i + per_world]) for i in range(0, len(picks), per_world)]
    out = Generated()
    with tempfile.TemporaryDirectory(prefix="quotadesk-sim-") as tmp:
        folder = db_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        work = [
            _WorldJob(seed, n, group, str(folder / f"world{seed}_{n:03d}.db"), background)
            for n, group in enumerate(groups)
        ]
        if jobs > 1 and len(work) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                results = pool.map(_run_world, work)
                for n, (made, missing, admits) in enumerate(results):
                    out.cases.extend(made)
                    out.missing.extend(missing)
                    out.admits += admits
                    out.worlds += 1
                    if progress is not None:
                        progress("world", n + 1, len(work))
        else:
            for n, job in enumerate(work):
                made, missing, admits = _run_world(job)
                out.cases.extend(made)
                out.missing.extend(missing)
                out.admits += admits
                out.worlds += 1
                if progress is not None:
                    progress("world", n + 1, len(work))
    out.cases.sort(key=lambda c: c.name)
    out.seconds = time.perf_counter() - t0
    return out


def write_cases(cases: Sequence[Case], out_dir: Path) -> list[Path]:
    """``NAME.json`` (the bundle) and ``NAME.expected.json`` (the truth) for each case."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for c in cases:
        if c.bundle is None:
            continue
        path = out_dir / f"{c.name}.json"
        path.write_text(json.dumps(c.bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        (out_dir / f"{c.name}.expected.json").write_text(
            json.dumps(c.truth.expected(), indent=1) + "\n", encoding="utf-8"
        )
        written.append(path)
    return written


def summary(g: Generated) -> dict[str, Any]:
    return {
        "cases": len(g.cases),
        "missing": g.missing,
        "worlds": g.worlds,
        "seconds": round(g.seconds, 2),
        "admissions": g.admits,
    }


_ = HOUR
