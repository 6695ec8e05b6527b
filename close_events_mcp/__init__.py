"""close-events-mcp: an MCP server for Close CRM's Event Log."""

__version__ = "0.1.0"
