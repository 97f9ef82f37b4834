"""`python -m todo_cli`: the `todo` command, as the migrate Job runs it in the image."""

import sys

from todo_cli.main import main

sys.exit(main())
