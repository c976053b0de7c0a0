"""Running the quadcat command-line tool: one subprocess per call, JSON on standard output, errors
raised as QuadcatError in the tool's own words."""
import json
import os
import subprocess
import tempfile
from typing import Any, Iterable, Iterator, List, Optional, Sequence

from ._binary import binary
from .errors import QuadcatError


def arguments(*parts: Any) -> List[str]:
    """Flattens command parts to strings (paths through ``os.fspath``), dropping ``None``."""
    return [os.fspath(part) if isinstance(part, os.PathLike) else str(part) for part in parts if part is not None]


def run_json(args: Sequence[str], *, accept: Iterable[int] = (0,)) -> Any:
    """Runs ``quadcat ARGS`` and parses its standard output as JSON.

    ``accept``: exit statuses whose output is still a report (``verify`` exits 1 on damage).
    """
    result = _run(args)
    if result.returncode not in tuple(accept):
        raise _failure(args, result.returncode, result.stderr)
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise QuadcatError(
            f"quadcat {' '.join(args[:1])} printed no JSON report (is the binary older than this package? "
            f"{binary()})", status=result.returncode, command=args, stderr=_text(result.stderr)) from None


def run_json_with_input(args: Sequence[str], chunks: Iterable[bytes]) -> Any:
    """Runs ``quadcat ARGS`` with ``chunks`` written to its standard input as they come (bounded
    memory), and parses the JSON report it prints."""
    command = [binary(), *args]
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=output, stderr=errors)
        except OSError as error:
            raise QuadcatError(f"cannot run {command[0]}: {error.strerror}", status=127, command=list(args)) from None
        assert process.stdin is not None
        try:
            for chunk in chunks:
                process.stdin.write(chunk)
        except BrokenPipeError:
            pass  # the tool stopped reading (it found an error): its message follows
        finally:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
        status = process.wait()
        output.seek(0)
        errors.seek(0)
        stdout, stderr = output.read(), errors.read()
    if status != 0:
        raise _failure(args, status, stderr)
    try:
        return json.loads(stdout)
    except ValueError:
        raise QuadcatError(f"quadcat {' '.join(args[:1])} printed no JSON report", status=status, command=list(args), stderr=_text(stderr)) from None


def run_quietly(args: Sequence[str]) -> None:
    """Runs ``quadcat ARGS`` for its effect, raising on failure."""
    result = _run(args)
    if result.returncode != 0:
        raise _failure(args, result.returncode, result.stderr)


def stream_lines(args: Sequence[str], executable: Optional[str] = None) -> Iterator[bytes]:
    """Yields the lines ``quadcat ARGS`` writes to standard output as it writes them (bounded memory),
    without their newlines. Stopping early ends the process; a failure raises after the last line.
    ``executable`` overrides :func:`binary`."""
    command = [executable or binary(), *args]
    # Standard error goes to a file: a pipe nobody reads while stdout is drained could fill and block.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        finished = False
        try:
            assert process.stdout is not None
            for line in process.stdout:
                yield line[:-1] if line.endswith(b"\n") else line
            finished = True
        finally:
            if not finished and process.poll() is None:
                process.kill()
            process.stdout.close()  # type: ignore[union-attr]
            status = process.wait()
            errors.seek(0)
            stderr = errors.read()
    if status != 0:
        raise _failure(args, status, stderr)


def _run(args: Sequence[str]) -> "subprocess.CompletedProcess[bytes]":
    command = [binary(), *args]
    try:
        return subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as error:
        raise QuadcatError(f"cannot run {command[0]}: {error.strerror}", status=127, command=args) from None


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _failure(args: Sequence[str], status: int, stderr: bytes) -> QuadcatError:
    """The tool's own message: its ``quadcat: error:`` lines, or argument-parser ``Error:`` lines."""
    text = _text(stderr)
    lines = text.splitlines()
    message = [line[len("quadcat: error: "):] for line in lines if line.startswith("quadcat: error: ")]
    if not message:
        message = [line[len("Error: "):] for line in lines if line.startswith("Error: ")]
        message += [line for line in lines if line.startswith("Help: ")]
    if not message:
        message = [line for line in lines if line.strip()] or [f"quadcat {' '.join(args[:1])} exited with status {status}"]
    return QuadcatError("\n".join(message), status=status, command=list(args), stderr=text)
