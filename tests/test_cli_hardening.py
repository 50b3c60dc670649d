"""The places where a command used to end in a traceback: each now refuses with one line, exit 2.

Edge-of-calendar times (``--now``, ``--as-of``, ``--expires-at``, and times the library is handed),
an unknown tier (typed, or stored under a tier table that changed), a path too long for the file
system or of the wrong kind (tests may run as root, so "unwritable" is forced with a path under a
regular file: ENOTDIR), a malformed expected file in ``sim score``, and text that is not UTF-8
for ``explain-error``. (The corrupt usage-log journal is in ``tests/usage_io``.)
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quotadesk.billing.limits import LATEST, in_clock_range, next_month_start
from quotadesk.cli import app
from quotadesk.errors import InputError
from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "auto_recharge_failed.json"
EXPORT = ROOT / "tests" / "usage_io" / "fixtures" / "openai_usage_grouped.json"
LONG = "a" * 300  # past NAME_MAX (255) on every common file system
EDGES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00+05:00",  # leaves the calendar when moved to UTC
    "9999-12-31T23:59:59-05:00",
    "1969-12-31T23:59:59Z",
]


def _qd(*args: str, input: bytes | str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input)


def _refused(result: Any, field: str) -> str:
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == "", result.stdout
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "╭" not in err, err
    assert err.startswith(f"error: {field}: "), err
    return str(err)


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path}/books.db"
    books = Books.open(url)
    org = books.create_org(SYSTEM, datetime(2026, 11, 1, tzinfo=UTC), free_trial="5.00")
    books.close()
    return url, org


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "regular-file"
    path.write_text("not a folder\n")
    return path


# ---------------------------------------------------------------------------------- edge dates


@pytest.mark.parametrize("when", EDGES)
def test_edge_times_in_now_options_are_refused_naming_the_option(db: tuple[str, str], when: str) -> None:
    url, org = db
    assert "outside the supported range" in _refused(
        _qd("books", "tick", "--now", when, "--db", url), "--now"
    )
    _refused(_qd("books", "verify", "--now", when, "--db", url), "--now")
    _refused(
        _qd("grant", "add", org, "1.00", "--kind", "goodwill", "--expires-at", when, "--db", url),
        "--expires-at",
    )
    _refused(_qd("usage", "scan", "--as-of", when, "--usage-dir", str(ROOT)), "--as-of")


def test_the_books_refuse_edge_times_naming_the_field(tmp_path: Path) -> None:
    books = Books.open(f"sqlite:///{tmp_path}/books.db")
    with pytest.raises(InputError) as err:
        books.create_org(SYSTEM, datetime(9999, 12, 31, tzinfo=UTC))
    assert err.value.field == "now" and "supported range" in err.value.message
    org = books.create_org(SYSTEM, datetime(2026, 11, 1, tzinfo=UTC))
    with pytest.raises(InputError) as err:
        books.grant_credit(SYSTEM, datetime(2026, 11, 1, tzinfo=UTC), org, "1.00", kind="goodwill",
                           expires_at=datetime(9999, 12, 31, tzinfo=UTC))  # fmt: skip
    assert err.value.field == "expires_at"
    books.close()


def test_the_clock_range_is_stated_and_month_arithmetic_is_total() -> None:
    assert in_clock_range(datetime(8999, 12, 31, tzinfo=UTC)).year == 8999
    with pytest.raises(ValueError, match=r"now: .*outside the supported range"):
        in_clock_range(LATEST)
    with pytest.raises(ValueError, match="no next month"):
        next_month_start(datetime(9999, 12, 1, tzinfo=UTC))


# ---------------------------------------------------------------------------------- tiers


def test_an_unknown_tier_is_refused_naming_the_argument(db: tuple[str, str]) -> None:
    url, org = db
    _refused(_qd("org", "tier", org, "platinum", "--db", url), "current")


def test_a_tier_the_books_hold_but_the_table_lacks_is_one_error_line(db: tuple[str, str]) -> None:
    url, org = db
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE organizations SET tier_current = 'platinum'")
    for args in (("org", "show", org), ("books", "tick", "--now", "2026-12-01T00:00:00Z")):
        assert "platinum" in _refused(_qd(*args, "--db", url), "tier")


def test_a_float_where_a_whole_number_is_promised(db: tuple[str, str]) -> None:
    url, org = db
    _refused(_qd("org", "rate-limits", org, "--set", "gpt-4o=1.5:90000", "--db", url), "--set")
    _refused(_qd("sim", "score", str(ROOT), "--jobs", "1.5"), "--jobs")


# ---------------------------------------------------------------------------------- paths


def _path_cases(bad: str) -> list[tuple[tuple[str, ...], str]]:
    ticket = str(EXAMPLE)
    return [
        (("triage", bad), "bundle"),
        (("triage", str(EXAMPLE), "--wording", bad), "wording"),
        (("sim", "run", "--out", bad), "--out"),
        (("usage", "scan", "--usage-dir", bad), "--usage-dir"),
        (("usage", "import", "auto", str(EXPORT), "--org", "acme", "--usage-dir", bad), "--usage-dir"),
        (("bundle", "export", "ORG", "--ticket", bad), "--ticket"),
        (("bundle", "export", "ORG", "--ticket", ticket, "--out", bad), "--out"),
    ]


@pytest.mark.parametrize("case", range(len(_path_cases(""))))
@pytest.mark.parametrize("kind", ["too_long", "under_a_file"])
def test_bad_paths_are_one_error_line_naming_the_option(
    db: tuple[str, str], a_file: Path, tmp_path: Path, kind: str, case: int
) -> None:
    url, org = db
    bad = str(tmp_path / LONG) if kind == "too_long" else str(a_file / "sub" / "x.json")
    args, field = _path_cases(bad)[case]
    args = tuple(org if a == "ORG" else a for a in args)
    extra = ("--db", url) if args[0] in ("bundle",) else ()
    result = _qd(*args, *extra)
    if args[:2] == ("usage", "scan") and kind == "under_a_file":
        _refused(result, field)  # no such log: named
        return
    _refused(result, field)


def test_odd_out_and_usage_dir_paths(db: tuple[str, str], a_file: Path, tmp_path: Path) -> None:
    url, org = db
    ticket = str(EXAMPLE)
    # a folder where a file is expected
    assert "directory" in _refused(
        _qd("bundle", "export", org, "--ticket", ticket, "--out", str(tmp_path), "--db", url), "--out"
    )
    # a file where a folder is expected
    _refused(_qd("sim", "run", "--out", str(a_file)), "--out")
    assert "not a folder" in _refused(_qd("usage", "scan", "--usage-dir", str(a_file)), "--usage-dir")
    _refused(
        _qd("usage", "import", "auto", str(EXPORT), "--org", "acme", "--usage-dir", str(a_file)),
        "--usage-dir",
    )
    assert a_file.read_text() == "not a folder\n"


def test_a_database_that_cannot_be_opened_names_db(a_file: Path) -> None:
    _refused(_qd("books", "verify", "--db", f"sqlite:///{a_file}/books.db"), "db")


# ---------------------------------------------------------------------------------- sim score


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "case.expected.json"),
        (b"\xff\xfe", "case.expected.json"),
        (b"[1, 2]", "case.expected.json"),
        (b'{"incident": "payment_failure"}', "case.expected.json.root_cause"),
        (b'{"incident": 3, "root_cause": "x", "route": "billing"}', "case.expected.json.incident"),
        (
            b'{"incident": "a", "root_cause": "b", "route": "c", "key_exposed": "yes"}',
            "case.expected.json.key_exposed",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "case.expected.json"),
    ],
    ids=["broken", "binary", "list", "missing", "wrong_type", "key_exposed", "deep"],
)
def test_a_malformed_expected_file_is_refused_naming_it(tmp_path: Path, content: bytes, field: str) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "case.json")
    (folder / "case.expected.json").write_bytes(content)
    _refused(_qd("sim", "score", str(folder)), field)


def test_sim_score_of_a_folder_without_cases_names_the_folder(tmp_path: Path, a_file: Path) -> None:
    _refused(_qd("sim", "score", str(tmp_path)), "folder")
    _refused(_qd("sim", "score", str(a_file)), "folder")


# ---------------------------------------------------------------------------------- explain-error


@pytest.mark.parametrize("body", [b"\xff\xfe\x00{", b'{"error": {"message": "\xc3\x28"}}', b"\xed\xa0\x80"])
def test_explain_error_refuses_bytes_that_are_not_utf8(body: bytes) -> None:
    _refused(_qd("explain-error", "400", "-", "--json", input=body), "body")


def test_explain_error_output_is_valid_utf8_json() -> None:
    result = _qd(
        "explain-error", "400", "-", "--json", input='{"error": {"message": "quota \u00e9 \U0001f600"}}'
    )
    assert result.exit_code == 0
    json.loads(result.stdout_bytes.decode("utf-8"))


KEY = "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90KlMn"
ANT = "sk-ant-api03-" + "Zz09Yy87Xx65Ww43Vv21Uu10"


@pytest.mark.parametrize("where", ["code", "type", "message", "param", "extra"])
def test_a_key_in_any_field_of_an_error_body_is_never_printed(where: str) -> None:
    error: dict[str, Any] = {"type": "invalid_request_error", "code": "invalid_api_key", "message": "bad key"}
    error[where] = f"{KEY} and {ANT}" if where != "extra" else {"nested": [KEY, ANT]}
    body = json.dumps({"error": error})
    for args in (("--json",), ()):
        result = _qd("explain-error", "401", body, "--provider", "openai", *args)
        assert result.exit_code == 0, result.output
        assert KEY not in result.output and ANT not in result.output
        assert KEY[:8] not in result.output or "sk-proj-..." in result.output
    out = json.loads(_qd("explain-error", "401", body, "--json").stdout)
    if where in ("code", "type", "message"):  # the fields it reads and prints
        assert out["key_exposed"] is True and KEY[-4:] in json.dumps(out)
