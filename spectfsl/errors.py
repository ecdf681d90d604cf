"""The one project error type: bad usage or bad input, reported as `error: ...` with exit code 2."""


class SpectfslError(Exception):
    """A problem the user can fix (unreadable file, bad option, incompatible bank); exit code 2."""

    exit_code = 2
