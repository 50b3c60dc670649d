"""One CLI error path: every command of the tree refuses bad usage with one ``error:`` line, exit 2.

The tree is walked from click's command objects, so a command added later is covered without
editing this file. For each command: an unknown option, a missing required argument, and a
wrong-typed value (text, and a float, where an integer is promised) must each give exactly one
line ``error: <field>: <message>`` on stderr, nothing on stdout, exit 2, no usage box and no
traceback. Secrets quoted in an error are redacted.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from quotadesk.cli import app
from quotadesk.cli.errors import line

ROOT = typer.main.get_command(app)


def _walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        yield from _walk(sub, (*path, name))


COMMANDS = [(path, cmd) for path, cmd in _walk(ROOT, ()) if path]
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not getattr(cmd, "commands", None)]


def _base(annotation: Any) -> Any:
    """``int`` for ``int``, ``int | None`` and ``Annotated``; else the annotation itself."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _kind(param: Any) -> Any:
    desc = getattr(param, "type_descriptor", None)
    return _base(desc.annotation) if desc is not None else str


def _filler(param: Any) -> str:
    """A value of the right type for a required parameter, so the error is about the one we break."""
    kind = _kind(param)
    if kind is int:
        return "429" if param.name == "status" else "1"
    if kind is float:
        return "1.0"
    return "2026-01-01T00:00:00Z" if param.name in ("now", "as_of") else "x"


def _required(cmd: Any, skip: str | None = None) -> list[str]:
    out: list[str] = []
    for p in cmd.params:
        if not p.required or p.name == skip:
            continue
        if p.param_type_name == "argument":
            out.append(_filler(p))
        else:
            out += [p.opts[0], _filler(p)]
    return out


def _assert_one_error_line(result: Any, field: str | None = None) -> None:
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == "", result.stdout
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "╭" not in err and "Usage:" not in err and "Traceback" not in err, err
    assert "error: internal:" not in err, err
    if field is not None:
        assert lines[0].startswith(f"error: {field}: "), err


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _id(item: tuple[tuple[str, ...], Any]) -> str:
    return " ".join(item[0])


def test_the_walk_finds_the_whole_tree() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    for group in ("org", "key", "grant", "limit", "flag", "staff", "usage", "books", "sim", "connectors",
                  "contact", "customer", "bundle"):  # fmt: skip
        assert group in names, group
    assert len(LEAVES) >= 40


@pytest.mark.parametrize("item", COMMANDS, ids=_id)
def test_an_unknown_option_is_one_error_line(item: tuple[tuple[str, ...], Any]) -> None:
    path, _ = item
    _assert_one_error_line(_invoke(*path, "--no-such-option-xyz"), "--no-such-option-xyz")


@pytest.mark.parametrize("item", LEAVES, ids=_id)
def test_a_missing_required_parameter_is_one_error_line(item: tuple[tuple[str, ...], Any]) -> None:
    path, cmd = item
    required = [p for p in cmd.params if p.required]
    if not required:
        pytest.skip("no required parameter")
    options = [p for p in required if p.param_type_name == "option"]
    first = options[0] if options else required[-1]  # the last argument: the others keep their place
    field = first.opts[0] if first.param_type_name == "option" else first.name
    _assert_one_error_line(_invoke(*path, *_required(cmd, skip=first.name)), field)


NUMERIC = [
    (path, cmd, p)
    for path, cmd in LEAVES
    for p in cmd.params
    if _kind(p) in (int, float) and p.param_type_name == "option"
]


def test_there_are_numeric_options_to_break() -> None:
    assert len(NUMERIC) >= 10


@pytest.mark.parametrize("item", NUMERIC, ids=lambda i: " ".join(i[0]) + " " + i[2].opts[0])
@pytest.mark.parametrize("value", ["not-a-number", "1.5", "1e400", "９"])
def test_a_wrong_typed_value_is_one_error_line(item: tuple[tuple[str, ...], Any, Any], value: str) -> None:
    path, cmd, param = item
    if value != "not-a-number" and _kind(param) is float:
        pytest.skip("a float option takes 1.5")
    option = param.opts[0]
    _assert_one_error_line(_invoke(*path, *_required(cmd, skip=param.name), option, value), option)


@pytest.mark.parametrize("item", [i for i in LEAVES if any(p.param_type_name == "argument" and _kind(p) is int
                                                           for p in i[1].params)], ids=_id)  # fmt: skip
def test_a_wrong_typed_argument_is_one_error_line(item: tuple[tuple[str, ...], Any]) -> None:
    path, cmd = item
    args = [("zz" if _kind(p) is int else _filler(p)) for p in cmd.params if p.param_type_name == "argument"]
    _assert_one_error_line(_invoke(*path, *args))


def test_an_unknown_command_is_one_error_line() -> None:
    _assert_one_error_line(_invoke("no-such-command"), "command")
    _assert_one_error_line(_invoke("org", "no-such-command"), "command")


def test_an_extra_argument_is_one_error_line() -> None:
    _assert_one_error_line(_invoke("prices", "extra"), "argument")


def test_help_stays_available() -> None:
    result = _invoke("org", "--help")
    assert result.exit_code == 0 and "create" in result.stdout


def test_the_error_line_redacts_keys_and_stays_one_line() -> None:
    key = "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90KlMn"
    text = line("--provider", f"unknown provider {key!r}\nsecond line")
    assert key not in text and "sk-proj-...KlMn" in text and "\n" not in text
    for secret in ("whsec_" + "AbCdEf0123456789GhIjKl", "qds_" + "AbCdEf0123456789GhIjKl_-x",
                   "qdc_" + "AbCdEf0123456789GhIjKl_-x", "sk-qd-" + "AbCdEf0123456789GhIjKl_-x"):  # fmt: skip
        assert secret not in line("token", f"bad {secret}"), secret
    assert "\udcff" not in line("body", "bad \udcff")


def test_an_option_value_that_is_a_key_is_redacted_on_stderr() -> None:
    key = "sk-ant-api03-" + "Zz09Yy87Xx65Ww43Vv21Uu10"
    result = _invoke("explain-error", "429", "{}", "--provider", key)
    _assert_one_error_line(result, "provider")
    assert key not in result.stderr


def test_every_log_line_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from quotadesk import logredact

    logredact.install()
    logredact.install()  # twice is once
    key, token = "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90KlMn", "qds_" + "AbCdEf0123456789GhIjKl_-x"
    log = logging.getLogger("quotadesk.test.access")  # uvicorn.access may not propagate once configured
    with caplog.at_level(logging.INFO):
        log.info('%s "GET /login?token=%s HTTP/1.1" 200', "127.0.0.1", token)
        try:
            raise ValueError(f"bad key {key}")
        except ValueError:
            logging.getLogger("quotadesk.web").exception("failed with %s", key)
    text = caplog.text
    assert key not in text and token not in text and "sk-proj-...KlMn" in text and "qds_..." in text
