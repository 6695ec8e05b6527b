"""MCP Bundle entry point: serve close-events-mcp over stdio (the host passes CLOSE_API_KEY)."""

from close_events_mcp.cli import main

raise SystemExit(main())
