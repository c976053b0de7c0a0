"""The package's one exception type for failed quadcat commands."""
from typing import Optional, Sequence


class QuadcatError(Exception):
    """A quadcat command failed.

    ``message`` is the command-line tool's own words (what went wrong, the file, line, row or name at
    fault, and what to do); ``status`` its exit status (1 for a refused request, 64 for a usage error,
    127 when no binary could be run); ``command`` the argument list that was run, when there was one;
    ``stderr`` everything it wrote to standard error.
    """

    def __init__(self, message: str, *, status: int = 1, command: Optional[Sequence[str]] = None, stderr: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.command = list(command) if command is not None else None
        self.stderr = stderr

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        """Pickles with every field (errors cross process boundaries, e.g. from Ray workers)."""
        return (_rebuild, (self.message, self.status, self.command, self.stderr))


def _rebuild(message: str, status: int, command: Optional[Sequence[str]], stderr: str) -> QuadcatError:
    return QuadcatError(message, status=status, command=command, stderr=stderr)
