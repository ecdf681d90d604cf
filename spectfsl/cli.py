"""The root `spectfsl` command: plugin discovery, global options, and the one error handler.

Every subcommand, built-in or third-party, is registered through the `spectfsl.commands`
entry-point group. An entry point names a callable `register(app: typer.Typer) -> None` that adds
its commands to the root app. A plugin that fails to load produces a warning, never a dead CLI.
Heavy libraries (torch) are imported inside commands, so `spectfsl --help` stays fast.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from importlib.metadata import entry_points
from typing import Annotated

import typer

from spectfsl import __version__
from spectfsl.errors import SpectfslError, SpectfslWarning
from spectfsl.ui import Settings, shown, warn

ENTRY_POINT_GROUP = "spectfsl.commands"

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _version(value: bool) -> None:
    if value:
        print(f"spectfsl {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or informational messages.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback on errors (or SPECTFSL_DEBUG=1).")] = False,
) -> None:
    """Few-shot tissue classification and self-supervised anatomical localisation in SPECT images.

    Exit codes: 0 success, 1 internal error (a bug), 2 bad usage or bad input, 130 interrupted.
    """
    Settings.quiet = Settings.quiet or quiet
    Settings.debug = Settings.debug or debug


def _no_argument_types_in_help() -> None:
    """Typer prints a Python type beside each positional argument in help (`IMAGE... <list[str]>`),
    whatever its metavar; the argument's help text says what it takes, so show the name alone."""
    from typer.core import TyperArgument

    TyperArgument.display_type_rich = lambda self, ctx: None


def build_app() -> typer.Typer:
    """The root Typer app with every command found in the `spectfsl.commands` entry-point group."""
    _no_argument_types_in_help()
    app = typer.Typer(
        name="spectfsl",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help: no type placeholders such as <bool>, readable when piped
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        try:
            entry_point.load()(app)
        except Exception as error:  # a broken third-party plugin must not take the CLI down
            warn(f"plugin command '{entry_point.name}' ({entry_point.value}) failed to load: {error}")
    return app


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Every warning, ours or a library's, as one `warning:` line on stderr (no source line, no path)."""
    text = " ".join(shown(message).split())
    prefix = "" if issubclass(category, SpectfslWarning) else f"{category.__name__}: "
    print(f"warning: {prefix}{text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (see `_root` for their meaning)."""
    Settings.quiet = False
    Settings.debug = os.environ.get("SPECTFSL_DEBUG", "") not in ("", "0")
    with warnings.catch_warnings():  # Python's own filters decide which warnings show, we decide how
        warnings.showwarning = _show_warning
        return _run(argv)


#: The commands that take part in a torchrun launch (command path without `spectfsl`).
DISTRIBUTED_COMMANDS = (
    ("prnet", "train"),
    ("prnet", "locate"),
    ("proto", "fit"),
    ("proto", "predict"),
    ("segment", "fit"),
    ("segment", "predict"),
)


def _command_words(argv: list[str]) -> list[str]:
    """The command path in `argv` (`prnet train`): its first words, after the root's flags."""
    words = []
    for token in argv:
        if token.startswith("-"):
            if words:
                break
            continue
        words.append(token)
        if len(words) == 2:
            break
    return words


def _run(argv: list[str] | None) -> int:
    from spectfsl.core import distributed

    app = build_app()
    try:
        if distributed.launched().active:
            words = _command_words(sys.argv[1:] if argv is None else argv)
            distributed.check_command(words, DISTRIBUTED_COMMANDS)
            Settings.quiet = Settings.quiet or not distributed.launched().is_main  # rank 0 speaks for all
        result = app(args=argv, prog_name="spectfsl", standalone_mode=False)
        return result if isinstance(result, int) else EXIT_OK
    except typer.Exit as done:
        return done.exit_code
    except typer.TyperException as error:  # bad usage: unknown option, missing argument, bad value
        context = getattr(error, "ctx", None)
        if not error.format_message():  # no arguments: the help has been shown
            return EXIT_USAGE
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        print(f"error: {error.format_message()}{hint}", file=sys.stderr)
        return EXIT_USAGE
    except SpectfslError as error:
        if Settings.debug:
            traceback.print_exc()
        print(f"error: {shown(error)}", file=sys.stderr)
        return error.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _output_closed()
    except SystemExit as done:
        # click turns a closed stdout (`spectfsl ... | head`) into exit 1; a reader that stops early is no error
        if isinstance(done.__context__, BrokenPipeError):
            return _output_closed()
        raise
    except Exception as error:
        if Settings.debug:
            traceback.print_exc()
        print(
            f"error: internal error: {type(error).__name__}: {error} "
            "(a bug in spectfsl; rerun with --debug for a traceback and report it)",
            file=sys.stderr,
        )
        return EXIT_BUG
    finally:
        distributed.leave()


def _output_closed() -> int:
    """The reader of stdout went away: send what is still buffered nowhere, and end quietly (exit 0)."""
    sys.stdout = sys.__stdout__
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a captured stream): nothing left to flush
        pass
    return EXIT_OK


def run() -> None:
    """Console-script entry point (`spectfsl`, `python -m spectfsl`): `main`, then `end_process`."""
    end_process(main())


def end_process(code: int) -> None:
    """End the process with `code` once the command is done.

    After torch has been imported, the interpreter's own shutdown (finalising thousands of modules and
    torch's operator libraries) takes about 1.5 s on a 2-core machine and does nothing a finished command
    needs: its files are closed and renamed into place, its process group left. So the output streams
    are flushed and the process ends at once (`os._exit`). The ordinary shutdown stays where something
    may still be waiting for it: before torch is imported (`--help`), and under a tracer or profiler
    (coverage and cProfile write their data at exit).
    """
    measured = sys.gettrace() is not None or sys.getprofile() is not None or "coverage" in sys.modules
    if "torch" not in sys.modules or measured:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, OSError, ValueError):  # the reader went away: nothing left to deliver
            pass
    os._exit(code)
