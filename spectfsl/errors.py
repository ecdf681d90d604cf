"""The one project error type: bad usage or bad input, reported as `error: ...` with exit code 2."""


class SpectfslError(Exception):
    """A problem the user can fix (unreadable file, bad option, incompatible bank); exit code 2."""

    exit_code = 2


class SpectfslWarning(UserWarning):
    """Something the user should know that does not stop the run (files skipped, a fallback taken).

    The core issues it with `warnings.warn`; the CLI prints it as one `warning: ...` line.
    """
