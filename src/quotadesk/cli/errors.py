"""The one error path of ``quotadesk``: every refusal is ``error: <field>: <message>`` and exit 2.

Whatever goes wrong, and wherever (click parsing an option, a library ``QuotadeskError``, the
file system refusing a path), the user sees one line on stderr, nothing on stdout, and exit
status 2; never click's boxed usage text, never a traceback. ``QuotadeskGroup`` is the class
of the root command and of every command group (``sub_app``): it runs click in non-standalone
mode and translates what comes out. ``line`` is the single formatter, also used by
``common.guard``, so the format and the redaction of secrets live here and nowhere else.

Exit codes: 0 done; 1 the command ran and its answer is "no" (``books verify`` found drift,
``org access`` refused, ``usage scan`` had orgs fail), always with the reason printed; 2 refused
input, including usage errors; 130 interrupted. Help (``--help``, a group without a command)
is not an error and keeps its usual form.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer._click import exceptions as cx  # typer >= 0.25 vendors click; these are what it raises
from typer.core import TyperGroup

from quotadesk.billing.secrets import scrub
from quotadesk.billing.tiers import UnknownTier
from quotadesk.errors import QuotadeskError
from quotadesk.money import MoneyError

EXIT_REFUSED = 2
TRACEBACK_ENV = "QUOTADESK_TRACEBACK"
"""Set to 1 to let an unexpected exception (a bug) raise with its traceback instead of one line."""


def line(field: str | None, message: str) -> str:
    """``error: <field>: <message>`` with secrets redacted and text safe to print (valid UTF-8)."""
    text = f"error: {field}: {message}" if field else f"error: {message}"
    text = " ".join(text.split())  # one line, whatever the message carried
    return scrub(text).encode("utf-8", "replace").decode("utf-8")


def fail(field: str | None, message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """Print the error line on stderr and exit with ``code`` (2 unless told otherwise)."""
    typer.echo(line(field, message), err=True)
    raise typer.Exit(code)


PROJECT_ERRORS = (QuotadeskError, MoneyError, UnknownTier)
"""What the library raises to refuse something; anything else escaping a command is a bug."""


def project_error(exc: BaseException) -> tuple[str | None, str] | None:
    """(field, message) of a refusal of the library (``PROJECT_ERRORS``), else None."""
    if isinstance(exc, QuotadeskError):
        return exc.field, exc.message
    if isinstance(exc, UnknownTier):
        return exc.field, f"{exc.message} (a tier the books or the command name; `org tier` sets one)"
    if isinstance(exc, MoneyError):
        text = str(exc)
        return exc.field, text.removeprefix(f"{exc.field}: ") if exc.field else text
    return None


def _param_field(param: Any) -> str | None:
    """``--port`` for an option (its long name), ``status`` for an argument."""
    if param is None:
        return None
    opts = list(getattr(param, "opts", ()) or ())
    if getattr(param, "param_type_name", "") == "option" and opts:
        longs = [str(o) for o in opts if str(o).startswith("--")]
        return longs[0] if longs else str(opts[0])
    return str(param.name or "argument")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def usage_field_and_message(exc: cx.UsageError) -> tuple[str, str]:
    """The field a usage error is about (``--port``, ``status``, ``command``) and what is wrong."""
    if isinstance(exc, cx.NoSuchOption):
        hint = f" (did you mean {', '.join(sorted(exc.possibilities))}?)" if exc.possibilities else ""
        return exc.option_name, f"no such option{hint}; see --help"
    if isinstance(exc, cx.MissingParameter):
        missing = _param_field(exc.param) or "argument"
        kind = exc.param_type or (exc.param.param_type_name if exc.param is not None else "value")
        return missing, f"missing {kind} (required); see --help"
    if isinstance(exc, cx.BadParameter):
        field = _param_field(exc.param)
        if field is None and exc.param_hint is not None:
            field = exc.param_hint if isinstance(exc.param_hint, str) else exc.param_hint[0]
        return (field or "argument").strip("'\""), _lower_first(exc.message)
    if isinstance(exc, cx.BadOptionUsage):
        return exc.option_name, _lower_first(exc.message)
    message = exc.message
    if message.startswith("No such command"):
        return "command", _lower_first(message.rstrip(".")) + "; see --help"
    if message.startswith("Got unexpected extra argument"):
        return "argument", message.replace("Got unexpected", "unexpected")
    if message.startswith("Missing command"):
        return "command", "missing command; see --help"
    return "argument", _lower_first(message)


def _path_field(filename: object, args: Sequence[str]) -> str:
    """Which option named the path an ``OSError`` is about (the value equal to it, else the longest
    value it lies under); ``path`` for an argument or a path no option named."""
    name = os.fsdecode(filename) if isinstance(filename, str | bytes) else ""
    if not name:
        return "path"
    best: tuple[int, str] | None = None
    for i, tok in enumerate(args):
        value, option = tok, "path"
        if tok.startswith("--") and "=" in tok:
            option, value = tok.split("=", 1)
        elif i > 0 and args[i - 1].startswith("-"):
            option = args[i - 1]
        if not value:
            continue
        if name == value:
            return option
        if name.startswith(value.rstrip("/") + "/") and (best is None or len(value) > best[0]):
            best = (len(value), option)
    return best[1] if best is not None else "path"


def os_error_message(exc: OSError) -> str:
    """What the file system said, with the path, in words (never the errno number alone)."""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)
    where = f" ({os.fsdecode(exc.filename)!r})" if isinstance(exc.filename, str | bytes) else ""
    return f"{reason[:1].lower()}{reason[1:]}{where}"


class QuotadeskGroup(TyperGroup):
    """A typer group whose ``main`` turns every failure into the one error line (see module doc)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except cx.NoArgsIsHelpError as exc:
            exc.show()
            return self._exit(exc.exit_code, standalone_mode)
        except cx.UsageError as exc:
            typer.echo(line(*usage_field_and_message(exc)), err=True)
            return self._exit(EXIT_REFUSED, standalone_mode)
        except typer.TyperException as exc:
            typer.echo(line(None, exc.format_message()), err=True)
            return self._exit(EXIT_REFUSED, standalone_mode)
        except typer.Abort:
            typer.echo(line(None, "aborted"), err=True)
            return self._exit(1, standalone_mode)
        except PROJECT_ERRORS as exc:
            typer.echo(line(*(project_error(exc) or (None, str(exc)))), err=True)
            return self._exit(EXIT_REFUSED, standalone_mode)
        except RecursionError:
            if os.environ.get(TRACEBACK_ENV) == "1":
                raise
            typer.echo(line("input", "nested too deeply to read"), err=True)
            return self._exit(EXIT_REFUSED, standalone_mode)
        except OSError as exc:
            if exc.errno == errno.EPIPE or os.environ.get(TRACEBACK_ENV) == "1":
                raise
            typer.echo(line(_path_field(exc.filename, argv), os_error_message(exc)), err=True)
            return self._exit(EXIT_REFUSED, standalone_mode)
        except Exception as exc:  # a bug: still one line, the traceback on request
            if os.environ.get(TRACEBACK_ENV) == "1":
                raise
            message = f"{type(exc).__name__}: {exc} (a bug; {TRACEBACK_ENV}=1 shows the traceback)"
            typer.echo(line("internal", message), err=True)
            return self._exit(EXIT_REFUSED, standalone_mode)
        code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        return self._exit(code, standalone_mode)

    @staticmethod
    def _exit(code: int, standalone_mode: bool) -> int:
        if standalone_mode:
            sys.exit(code)
        return code
