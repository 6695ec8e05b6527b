"""The MCP surface: tools, resources, prompts, the frame every call shares, the HTTP transport."""
