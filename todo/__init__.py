"""The todo library: domain operations and adapters shared by every function."""

import os

# pydantic searches every installed distribution's entry points for plugins on the first
# model build, several milliseconds of each function's cold start, for plugins this project
# never uses. A PYDANTIC_DISABLE_PLUGINS set in the environment still wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
