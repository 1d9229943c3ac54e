"""`python -m djs_toolkit.cli`: the `djs` command."""

from djs_toolkit.cli import main

raise SystemExit(main())
