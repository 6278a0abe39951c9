"""Which `tweedie` binary the package runs, and running it.

Search order (`find_binary`): $TWEEDIE; `tweedie` on PATH; the release, then debug, build
(`.build/release/tweedie`, `.build/debug/tweedie`) of the Swift checkout this package's files or
the current directory sit in (a directory holding Package.swift). `build=True` runs
`swift build -c release` in that checkout first. A failed command raises `TweedieCLIError` with
the CLI's one-line error.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class TweedieCLIError(RuntimeError):
    """A `tweedie` command that exited non-zero: `message` is the CLI's error line."""

    def __init__(self, message: str, command: list[str], returncode: int, stderr: str):
        super().__init__(message)
        self.message, self.command, self.returncode, self.stderr = message, command, returncode, stderr


class BinaryNotFoundError(FileNotFoundError):
    """No `tweedie` binary: the message says how to build one or point at it."""


def checkout_roots() -> list[Path]:
    """Swift checkouts (directories with Package.swift) above this file and above the current directory."""
    roots: list[Path] = []
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for d in (start, *start.parents):
            if (d / "Package.swift").is_file() and d not in roots:
                roots.append(d)
                break
    return roots


def build_release(root: Path) -> Path:
    """`swift build -c release` in checkout `root`; returns the binary it made."""
    swift = shutil.which("swift") or "/opt/swift/usr/bin/swift"
    p = subprocess.run([swift, "build", "-c", "release"], cwd=root, capture_output=True, text=True)
    if p.returncode != 0:
        raise BinaryNotFoundError(f"`swift build -c release` failed in {root} (exit {p.returncode}): "
                                  + (p.stderr.strip().splitlines() or ["no message"])[-1])
    return root / ".build" / "release" / "tweedie"


def find_binary(build: bool = False) -> str:
    """The path of the `tweedie` binary to run (module docstring: the search order)."""
    env = os.environ.get("TWEEDIE")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise BinaryNotFoundError(f"TWEEDIE={env} is not an executable file; point it at a built tweedie binary")
        return env
    roots = checkout_roots()
    if build:
        if not roots:
            raise BinaryNotFoundError("build=True needs a Tweedie checkout (a directory with Package.swift) above "
                                      "the package or the current directory")
        return str(build_release(roots[0]))
    on_path = shutil.which("tweedie")
    if on_path:
        return on_path
    for root in roots:
        for mode in ("release", "debug"):
            p = root / ".build" / mode / "tweedie"
            if p.is_file():
                return str(p)
    raise BinaryNotFoundError("no tweedie binary: run `swift build -c release` in the Tweedie checkout, set "
                              "TWEEDIE=/path/to/tweedie, put tweedie on PATH, or call tweedie.find_binary(build=True)")


def error_line(stderr: str) -> str:
    """The CLI's error: its first line starting with 'error' (any case), else its last non-empty line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.lower().startswith("error"):
            return ln
    return lines[-1] if lines else "tweedie failed without a message"


def run(args: list[str], *, binary: str | None = None, cwd: str | Path | None = None, echo: bool = False) -> str:
    """Runs `tweedie ARGS`; returns its stdout, or raises TweedieCLIError with the CLI's error line."""
    cmd = [binary or find_binary(), *args]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if echo and p.stdout:
        print(p.stdout, end="")
    if p.returncode != 0:
        raise TweedieCLIError(error_line(p.stderr), cmd, p.returncode, p.stderr)
    return p.stdout


def options(kwargs: dict) -> list[str]:
    """Keyword arguments as CLI options: name_with_underscores → --name-with-underscores; True → the
    flag alone; False / None → nothing; a list or tuple → comma-separated; a dict (sampler_settings)
    → one `--sampler-setting KEY=VALUE` per entry; anything else → str(value)."""
    out: list[str] = []
    for name, value in kwargs.items():
        if value is None or value is False:
            continue
        if name == "sampler_settings":
            for k, v in dict(value).items():
                out += ["--sampler-setting", f"{k}={_word(v)}"]
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        else:
            out += [flag, _word(value)]
    return out


def _word(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(_word(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
