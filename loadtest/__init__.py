"""Load and fault tests against real gunicorn instances: `make loadtest` (see __main__.py).

The scenarios (sqlite_load, two_instances, faults, database_down) are built from:
workspace.py (the temporary folder, ports, processes), services.py (PostgreSQL, Redis,
the SMTP sink), site.py (the app's settings and gunicorn), client.py (the browser-like
clients and the load), checks.py (the verdicts, the database read directly) and
scenario.py (options, running one scenario, the logs kept when it fails).
"""
