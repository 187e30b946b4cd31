"""Start the explorer: `python -m sim.explorer [--port N] [--host H] [--no-open]`.

Runs `solara run sim/explorer/app.py` so that nothing is fetched from the internet, neither by the
server nor by the page:
- `--no-check-version`: no query to the package index for a newer Solara (and no "upgrade" line);
- `SOLARA_TELEMETRY_MIXPANEL_ENABLE=False`: no telemetry (nor the IP look-up that goes with it);
- `--production`: no hidden check frame that development mode loads from Solara's website;
- `SOLARA_ASSETS_PROXY=True` and `SOLARA_ASSETS_CDN` on an unused local port: the front end is
  served from the installed `solara-assets` package; an asset missing from it fails at once
  instead of being downloaded from the public CDN.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().with_name("app.py")
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 8765
OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_ASSETS_PROXY": "True",
    "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",  # the discard port: nothing listens, nothing leaves the machine
}


def command(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, open_browser: bool = True) -> list[str]:
    """The `solara run` command line that serves the explorer."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        str(APP),
        "--no-check-version",
        "--production",
        "--host",
        host,
        "--port",
        str(port),
        "--open" if open_browser else "--no-open",
    ]


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for `command`: `base` (default: this process's) with OFFLINE_ENV over it."""
    return {**(os.environ if base is None else base), **OFFLINE_ENV}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim.explorer", description="Serve the explorer in the browser.")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to serve on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--no-open", action="store_true", help="do not open a browser window")
    args = parser.parse_args(argv)
    cmd = command(args.host, args.port, open_browser=not args.no_open)
    sys.stdout.flush()
    os.execve(sys.executable, cmd, environment())  # solara takes this process's place (and its signals)


if __name__ == "__main__":
    main()
