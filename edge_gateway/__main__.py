from edge_gateway.cli import main

raise SystemExit(main())
