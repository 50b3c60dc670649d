"""Walking the paged, bucketed exports of provider usage and cost APIs.

OpenAI's and Anthropic's usage and cost endpoints all answer pages of time buckets of results;
only the names of the bucket bounds and their time format differ. Walking them in one place
keeps every importer's checks (a page that says more follows, a bucket that ends before it
starts, a result that is not an object) the same, with the same located error messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from quotadesk.usage.importers.batch import RowBuilder
from quotadesk.usage.importers.fields import Loc, buckets, load_json, pages, read_bytes


def documents(path: Path) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    """The pages of ``path``; a bare list of buckets (the ``data`` of every page
    concatenated, as OpenAI's cookbook collects them) is read as one page."""
    if read_bytes(path).lstrip()[:1] == b"[":
        doc = load_json(path)
        if isinstance(doc, list) and doc and all(_is_bucket(b) for b in doc):
            yield Loc(str(path)), {"data": doc}
            return
    yield from pages(path)


def _is_bucket(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and "data" not in value
        and ("results" in value or value.get("object") == "bucket")
    )


def bucket_results(
    path: Path,
    rows: RowBuilder,
    *,
    start_key: str,
    end_key: str,
    parse: Callable[[Any, Loc], datetime],
) -> Iterator[tuple[datetime, datetime, Loc, Mapping[str, Any]]]:
    """Each result of each bucket of each page, with its bucket's bounds and its location."""
    for ploc, page in documents(path):
        if page.get("has_more") is True:
            rows.note(
                f"{path}: a page says has_more (next_page {page.get('next_page')!r}); import the next pages too"
            )
        for bloc, bucket, results in buckets(ploc, page):
            start = parse(bucket.get(start_key), bloc.at(start_key))
            end = parse(bucket.get(end_key), bloc.at(end_key))
            if end <= start:
                raise bloc.at(end_key).error(f"not after {start_key}")
            for i, res in enumerate(results):
                rows.seen()
                loc = bloc.at("results").at(i)
                if not isinstance(res, Mapping):
                    raise loc.error("expected a result object")
                yield start, end, loc, res
