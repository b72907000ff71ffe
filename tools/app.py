"""The app's own commands, run from this checkout by the developer scripts (bench/, audit/,
loadtest/): where they are, the environment that points the app at a throwaway database,
and ``flask --app microsite ...``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtual environment's scripts
FLASK = str(BIN / "flask")
GUNICORN = str(BIN / "gunicorn")

# What a server configured in this shell would bring along, and must not.
_NOT_INHERITED = {"BIND", "PORT", "FLASK_APP", "FLASK_DEBUG"}


class FlaskFailed(RuntimeError):
    """A flask command exited non-zero; the message ends with the end of its standard error."""


def app_env(database_url: str, secret_key: str, **settings: str) -> dict[str, str]:
    """This process's environment with the app on ``database_url`` and ``secret_key``, in
    development mode unless ``settings`` (more variables, which win) say otherwise."""
    env = {name: value for name, value in os.environ.items() if name not in _NOT_INHERITED}
    env.update(DATABASE_URL=database_url, SECRET_KEY=secret_key, MICROSITE_ENV="development")
    env.update(settings)
    return env


def flask(env: dict[str, str], *args: str) -> None:
    """Run ``flask --app microsite ARGS`` in the checkout with ``env``."""
    done = subprocess.run(
        [FLASK, "--app", "microsite", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise FlaskFailed(f"flask {' '.join(args)} failed:\n{done.stderr.strip()[-2000:]}")
