"""``python -m tertulia`` runs the command-line interface."""

from tertulia.cli.main import main

raise SystemExit(main())
