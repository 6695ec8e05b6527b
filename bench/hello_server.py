"""The yardstick for bench/startup.py: the smallest useful server on the same SDK, over stdio.

One tool on a plain ``MCPServer``: what any server built on this SDK pays to start. With
``--collector-paused`` it starts as close-events-mcp does (``cli.collector_paused``: the cyclic
garbage collector paused while the SDK loads and the server is built), so that what the two
servers' own code costs can be compared like for like.
"""

import gc
import sys

PAUSED = "--collector-paused" in sys.argv
if PAUSED:
    gc.disable()

from mcp.server import MCPServer  # noqa: E402

server = MCPServer("hello")


@server.tool()
def hello(name: str) -> str:
    """Say hello."""
    return f"Hello, {name}!"


if __name__ == "__main__":
    if PAUSED:
        gc.freeze()
        gc.enable()
    server.run("stdio")
