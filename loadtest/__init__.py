"""Load and fault tests against real gunicorn instances: `make loadtest` (see loadtest/__main__.py)."""
