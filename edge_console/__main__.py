from edge_console.cli import main

raise SystemExit(main())
