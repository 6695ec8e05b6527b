from close_events_mcp.cli import main

raise SystemExit(main())
