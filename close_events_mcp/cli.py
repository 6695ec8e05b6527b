"""Command line: serve MCP, run one tool, check the credential, or serve the emulator.

    close-events-mcp [--demo] [--transport stdio|streamable-http] [--host H] [--port N]
    close-events-mcp call TOOL [key=value ...] [--demo] [--structured]   (options anywhere after call)
    close-events-mcp check [--demo]
    close-events-mcp sandbox [--host H] [--port N] [--latency MS] [--rate-limit N] [--filler-events N]

In stdio mode nothing but the protocol is written to stdout; logs go to stderr. Start-up is kept
short, since hosts start their servers at launch: this module imports little beyond the standard
library and the settings. The SDK and the server load in the command that runs them (over stdio
with the cyclic garbage collector paused), the sandbox and the MCP client only in the commands
that use them.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio

from close_events_mcp import __version__
from close_events_mcp.config import LOG_LEVELS, ConfigError, Credential, Secret, Settings, settings_from_env
from close_events_mcp.text import clean, name_text, redact

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("close_events_mcp")
DEMO_BASE_URL = "http://demo.sandbox.invalid/api/v1"


class RedactingFormatter(logging.Formatter):
    """Formats records, tracebacks included, with every secret replaced."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


DETAILED_LOGGERS = ("close_events_mcp", "uvicorn.error", "uvicorn.access")
"""Loggers whose records below WARNING are shown: ours, and uvicorn's start-up and request lines.
Others log payloads below WARNING: sse_starlette every chunk of an answer, the SDK the messages it
drops, httpcore raw response headers. Only their warnings and errors reach stderr."""
PAYLOAD_LOGGERS = ("sse_starlette", "mcp", "httpx", "httpcore")
"""Held at WARNING, so their detail is not even formatted; ``OwnDetailOnly`` stops the rest."""


class OwnDetailOnly(logging.Filter):
    """Lets a record below WARNING through only from ``DETAILED_LOGGERS`` (or their children).

    Logs carry no CRM data and no answer text at any level: what we log ourselves is written for
    that, third-party debug output is not. This holds whatever level the other loggers are set to.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return any(record.name == name or record.name.startswith(name + ".") for name in DETAILED_LOGGERS)


def configure_logging(level: str, secrets: Sequence[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    handler.addFilter(OwnDetailOnly())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logger.debug(
        "Logging at %s; other libraries' records below WARNING are left out (they carry answer data).",
        level,
    )


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="use the built-in sandbox's demo organization instead of Close (no credential needed)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=default, help="stderr log level")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="close-events-mcp",
        description="MCP server for Close CRM's Event Log. Credentials: CLOSE_API_KEY or CLOSE_ACCESS_TOKEN.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    parser.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP transport: address to bind (default 127.0.0.1; any other needs CLOSE_EVENTS_HTTP_TOKEN)",
    )
    parser.add_argument("--port", type=int, default=8000, help="HTTP transport: port (default 8000)")
    commands = parser.add_subparsers(dest="command", metavar="{call,check,sync,store,sandbox}")

    call = commands.add_parser(
        "call",
        help="run one tool and print what the agent would read",
        description="Run one tool and print the text the agent would read. Exit 0 when the tool answered, "
        "1 when it answered with an error, 2 when the command line is wrong.",
        epilog=CALL_SYNTAX,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    call.add_argument(
        "-h", "--help", action=_CallHelp, help="show this help, with every tool and its arguments"
    )
    _common(call, suppress=True)
    call.add_argument("tool", help="tool name, e.g. list_events (the tools are listed below)")
    call.add_argument(
        "arguments", nargs="*", metavar="key=value", help="tool arguments, each key at most once"
    )
    call.add_argument("--structured", action="store_true", help="print structured_content as JSON instead")

    check = commands.add_parser("check", help="verify the credential and say what it can see")
    _common(check, suppress=True)

    sync = commands.add_parser(
        "sync", help="fill the local event store with everything Close still has (resumable)"
    )
    _common(sync, suppress=True)
    sync.add_argument("--follow", action="store_true", help="then keep reading new events until stopped")

    store = commands.add_parser("store", help="what the local event store holds, or delete from it")
    store_commands = store.add_subparsers(dest="store_command", metavar="{status,purge}", required=True)
    status = store_commands.add_parser("status", help="per organization: ranges held, events, size on disk")
    _common(status, suppress=True)
    purge = store_commands.add_parser("purge", help="delete the credential's organization's stored events")
    _common(purge, suppress=True)
    purge.add_argument("--before", metavar="DATE", help="only events dated before DATE (e.g. 2026-09-01)")

    sandbox = commands.add_parser("sandbox", help="serve the Close Event Log emulator on a loopback port")
    _common(sandbox, suppress=True)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--latency", type=float, default=0.0, metavar="MS", help="added to every request")
    sandbox.add_argument(
        "--rate-limit", type=int, default=None, metavar="N", help="requests per second per key"
    )
    sandbox.add_argument("--filler-events", type=int, default=0, metavar="N", help="extra generated events")
    return parser


CALL_SYNTAX = """\
Tool arguments are key=value pairs, one per argument, each key at most once. Quote a value that
holds spaces (since='last week'); numbers and true/false are converted as the tool's schema says.
Options such as --demo may come before or after the arguments.

examples:
  close-events-mcp call list_events object_type=lead action=deleted limit=3 --demo
  close-events-mcp call list_events since=yesterday until=today --demo
  close-events-mcp call summarize_events since='this week' --demo
  close-events-mcp call describe_event_types object_type=lead"""


class _CallHelp(argparse.Action):
    """``call --help``: the usage and syntax, then every tool and its arguments, read from the server."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        parser.print_help()
        print("\ntools (key=value arguments each takes):")
        for line in tool_lines(anyio.run(served_tools)):
            print(line)
        parser.exit()


async def served_tools() -> dict[str, list[str]]:
    """Each tool the server offers, with its argument names, in the order it lists them."""
    from mcp import Client

    from close_events_mcp.server.app import build_server

    async with Client(build_server(Settings())) as client:
        listed = (await client.list_tools()).tools
    return {tool.name: list((tool.input_schema or {}).get("properties") or {}) for tool in listed}


def tool_lines(tools: dict[str, list[str]]) -> list[str]:
    lines: list[str] = []
    for name, keys in tools.items():
        described = ", ".join(keys) if keys else "(no arguments)"
        lines += textwrap.wrap(
            described, width=100, initial_indent=f"  {name:<22}", subsequent_indent=" " * 24
        )
    return lines


def parse_tool_arguments(pairs: Sequence[str]) -> dict[str, str]:
    from close_events_mcp.query.filters import echo

    arguments: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"tool arguments are key=value pairs (limit=3, since=yesterday); got {echo(pair)}"
            )
        if key in arguments:
            raise ConfigError(
                f"{echo(key)} is given twice ({echo(arguments[key])} and {echo(value)}); "
                "give each argument once"
            )
        arguments[key] = value
    return arguments


def split_call_line(args: argparse.Namespace, extras: Sequence[str]) -> str | None:
    """Moves the key=value pairs argparse left over (those after an option, as in ``call list_events
    --demo limit=1``) to the tool's arguments, in order; returns what is left that is not one."""
    strays = [extra for extra in extras if extra.startswith("-") or "=" not in extra]
    if strays or args.command != "call":
        return " ".join(strays or extras)
    args.arguments = [*args.arguments, *extras]
    return None


def demo_setup(settings: Settings) -> tuple[Settings, httpx.AsyncBaseTransport]:
    """Settings and an in-process transport that point the client at the sandbox's demo org."""
    import httpx

    from close_events_sandbox.seed import DEMO_API_KEY
    from close_events_sandbox.serve import demo_app

    demo = settings.with_overrides(
        credential=Credential("api_key", Secret(DEMO_API_KEY)),
        base_url=DEMO_BASE_URL,
        demo=True,
        # The demo keeps nothing unless asked to: its organization is made anew each day.
        store=settings.store if os.environ.get("CLOSE_EVENTS_STORE") else "off",
    )
    return demo, httpx.ASGITransport(app=demo_app())


def main(argv: Sequence[str] | None = None) -> int:
    """The command line. Whatever a command prints (help, a tool's answer, a check), a reader that
    stopped early (``| head -1``) is not an error: the command ends quietly, with status 0."""
    try:
        try:
            return run_command(argv)
        finally:
            sys.stdout.flush()  # inside: output still buffered must find its reader here, not at exit
    except BrokenPipeError:
        stdout_to_null()
        return 0


def stdout_to_null() -> None:
    """Points stdout at the null device: its reader is gone, and Python's own flush at exit would
    otherwise fail again and print the error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def run_command(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras and (unknown := split_call_line(args, extras)):
        parser.error(f"unrecognized arguments: {unknown}")
    try:
        settings = settings_from_env()
    except ConfigError as exc:
        print(f"close-events-mcp: {exc}", file=sys.stderr)
        return 2
    if args.log_level:
        settings = settings.with_overrides(log_level=args.log_level)
    configure_logging(settings.log_level, settings.secrets)
    transport: httpx.AsyncBaseTransport | None = None
    if getattr(args, "demo", False) and args.command != "sandbox":
        settings, transport = demo_setup(settings)

    if args.command == "call":
        try:
            arguments = parse_tool_arguments(args.arguments)
        except ConfigError as exc:
            print(f"close-events-mcp: {exc}", file=sys.stderr)
            return 2
        return anyio.run(run_call, settings, transport, args.tool, arguments, args.structured)
    if args.command == "check":
        return anyio.run(run_check, settings, transport)
    if args.command == "sandbox":
        return run_sandbox(args)
    if args.command in ("sync", "store"):
        from close_events_mcp.store import commands

        if args.command == "sync":
            return anyio.run(lambda: commands.run_sync(settings, transport, follow=args.follow))
        if args.store_command == "status":
            return commands.run_status(settings)
        return anyio.run(commands.run_purge, settings, transport, args.before)
    return serve(settings, transport, args.transport, args.host, args.port)


def warn_without_credential(settings: Settings) -> None:
    if settings.credential is None:
        logger.warning("No CLOSE_API_KEY or CLOSE_ACCESS_TOKEN set: only describe_event_types will work.")


@contextmanager
def collector_paused() -> Iterator[None]:
    """For start-up: importing the SDK and building the server make objects that live as long as the
    process (modules, classes, schemas), where the cyclic collector finds next to nothing, yet it
    would run dozens of times. Paused, then everything built is frozen out of its reach, which also
    keeps the collections during tool calls short."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def serve(
    settings: Settings, transport: httpx.AsyncBaseTransport | None, kind: str, host: str, port: int
) -> int:
    if kind != "stdio":
        return serve_http(settings, transport, host, port)
    warn_without_credential(settings)
    with collector_paused():
        from close_events_mcp.server.app import build_server

        server = build_server(settings, transport=transport)
    server.run("stdio")
    return 0


def serve_http(settings: Settings, transport: httpx.AsyncBaseTransport | None, host: str, port: int) -> int:
    """Serve MCP over HTTP; refuses (exit 2) a non-loopback address without CLOSE_EVENTS_HTTP_TOKEN."""
    from close_events_mcp.server import http as http_app
    from close_events_mcp.server.app import build_server

    problem = http_app.startup_problem(settings, host)
    if problem:
        print(f"close-events-mcp: {problem}", file=sys.stderr)
        return 2
    warn_without_credential(settings)
    for note in http_app.startup_notes(settings, host, port):
        print(f"close-events-mcp: {note}", file=sys.stderr)
    http_app.serve_http(build_server(settings, transport=transport), settings, host, port)
    return 0


async def run_call(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    tool: str,
    arguments: dict[str, str],
    structured: bool,
) -> int:
    from mcp import Client

    from close_events_mcp.errors import AFTER_FIXING
    from close_events_mcp.query.filters import echo
    from close_events_mcp.server.app import build_server

    AFTER_FIXING.set("run the command again")  # the server below lives as long as this command
    async with Client(build_server(settings, transport=transport)) as client:
        served = [listed.name for listed in (await client.list_tools()).tools]
        if tool not in served:
            print(
                f"close-events-mcp: there is no tool {echo(tool)}; the tools are {', '.join(served)} "
                "(close-events-mcp call --help lists their arguments).",
                file=sys.stderr,
            )
            return 2
        result = await client.call_tool(tool, dict(arguments))
    if structured and result.structured_content is not None:
        output = json.dumps(result.structured_content, indent=2, ensure_ascii=False)
    else:
        output = "\n".join(block.text for block in result.content if block.type == "text")
    sys.stdout.write(output + "\n")
    return 1 if result.is_error else 0


async def run_check(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> int:
    from close_events_mcp.close.client import CloseClient
    from close_events_mcp.errors import AFTER_FIXING, MissingCredentials, UserFacingError

    AFTER_FIXING.set("run close-events-mcp check again")
    credential = settings.credential
    try:
        async with CloseClient(settings, transport=transport) as client:
            with anyio.fail_after(settings.call_timeout):
                me = await client.me()
    except MissingCredentials:
        print(
            "Check failed: no Close credential is configured. Set CLOSE_API_KEY to an API key (Close → "
            "Settings → Developer → API Keys) or CLOSE_ACCESS_TOKEN to an OAuth token, or run "
            "close-events-mcp check --demo to try the demo organization.",
            file=sys.stderr,
        )
        return 1
    except UserFacingError as exc:
        print(f"Check failed: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"Check failed: Close did not answer within {settings.call_timeout:g} s.", file=sys.stderr)
        return 1
    for line in describe_me(me, credential, settings):
        print(line)
    from close_events_mcp.store.commands import store_summary

    print(store_summary(settings))
    return 0


def describe_me(me: dict[str, Any], credential: Credential | None, settings: Settings) -> list[str]:
    source = "the demo organization" if settings.demo else settings.base_url
    kind = (
        f"{credential.description} from {credential.env_var}"
        if credential and not settings.demo
        else "demo key"
    )
    # What Close says about the user is data: names quoted, the email and role unless one token, IDs
    # marked unless shaped like Close's, as in every answer.
    from close_events_mcp.render.values import format_value
    from close_events_mcp.text import id_text, key_text

    full = " ".join(str(me.get(k) or "") for k in ("first_name", "last_name")).strip()
    name = name_text(full) if clean(full, 80) else "(no name)"
    email = str(me.get("email") or "")
    email = format_value(email, 80) if clean(email, 80) else ""
    lines = [
        f"OK: {kind} accepted by {source}.",
        f"User: {name} <{email}> ({id_text(str(me.get('id')))})",
    ]
    organizations = {o.get("id"): o.get("name") for o in me.get("organizations") or [] if isinstance(o, dict)}
    for membership in me.get("memberships") or []:
        if not isinstance(membership, dict):
            continue
        org_id = membership.get("organization_id")
        role = str(membership.get("role_id") or "unknown")
        org_name = str(organizations.get(org_id) or "")
        org_name = name_text(org_name) if clean(org_name, 80) else "(no name)"
        lines.append(f"Organization: {org_name} ({id_text(str(org_id))}), role {key_text(clean(role, 40))}")
        if role == "admin":
            lines.append("Admin: sees the values (data, previous_data) of every event for the full 30 days.")
        else:
            lines.append(
                "Not an admin: sees event values only for one hour after each event; older events show who "
                "did what to which object, but not the values. Use an admin's key to see everything."
            )
    return lines


def run_sandbox(args: argparse.Namespace) -> int:
    from close_events_sandbox.app import Faults
    from close_events_sandbox.seed import DEMO_API_KEY, DEMO_MEMBER_API_KEY
    from close_events_sandbox.serve import demo_app
    from close_events_sandbox.serve import serve as serve_sandbox

    faults = Faults(latency=args.latency / 1000, rate_limit=args.rate_limit)
    app = demo_app(filler_events=args.filler_events, faults=faults)
    print(
        f"Close Event Log emulator on http://{args.host}:{args.port}/api/v1 ({len(app.store)} events).\n"
        f"Admin key: {DEMO_API_KEY}   non-admin key: {DEMO_MEMBER_API_KEY}\n"
        f"Try: CLOSE_API_BASE_URL=http://{args.host}:{args.port}/api/v1 CLOSE_API_KEY={DEMO_API_KEY} "
        "close-events-mcp call list_events limit=5",
        file=sys.stderr,
    )
    serve_sandbox(app, args.host, args.port)
    return 0
