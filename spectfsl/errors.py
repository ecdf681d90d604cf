"""The one project error type: bad usage or bad input, reported as `error: ...` with exit code 2.

The core speaks Python: a message that names a setting writes it as `{name}` and lists it in
`settings`; `str()` gives the Python name (`patch must be a multiple of 16`) and the CLI, which alone
knows its flags, words it with the flag (`--patch must be a multiple of 16`).
"""

from __future__ import annotations

from collections.abc import Callable


class _Worded:
    """A message whose `{setting}` placeholders are worded by whoever shows it."""

    def __init__(self, message: str = "", *, settings: str | tuple[str, ...] = ()) -> None:
        self.message = message
        self.settings = (settings,) if isinstance(settings, str) else tuple(settings)
        super().__init__(self.worded())

    def worded(self, name_of: Callable[[str], str] = str) -> str:
        """The message with each `{setting}` as `name_of(setting)` (default: the Python name)."""
        text = self.message
        for setting in self.settings:
            text = text.replace("{" + setting + "}", name_of(setting))
        return text


class SpectfslError(_Worded, Exception):
    """A problem the user can fix (unreadable file, bad option, incompatible bank); exit code 2."""

    exit_code = 2


class SpectfslWarning(_Worded, UserWarning):
    """Something the user should know that does not stop the run (files skipped, a fallback taken).

    The core issues it with `warnings.warn`; the CLI prints it as one `warning: ...` line.
    """
