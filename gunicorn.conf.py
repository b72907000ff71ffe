"""gunicorn settings for production: `make serve`, or `gunicorn -c gunicorn.conf.py`.

Every value can be set from the environment, so one file serves every machine:

    PORT / BIND             where to listen (127.0.0.1:8000; behind nginx, keep loopback)
    WEB_CONCURRENCY         worker processes (2 x cores is a good start)
    GUNICORN_THREADS        threads per worker (4)
    GUNICORN_TIMEOUT        seconds before a silent worker is restarted (30)
    GUNICORN_GRACEFUL_TIMEOUT  seconds a worker has to finish its requests on reload (30)
    GUNICORN_PRELOAD        1 loads the app once in the master before forking (0)

The access log leaves out client addresses, query strings, referrers, user agents and the
secret part of token URLs (see microsite/logs.py).
"""

import os

from gunicorn.glogging import Logger

wsgi_app = "microsite:create_app()"
bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
preload_app = os.environ.get("GUNICORN_PRELOAD", "0") == "1"
# The control socket would live in the home folder; nothing here uses it.
control_socket_disable = True

accesslog = "-"
access_log_format = '%(t)s "%(r)s" %(s)s %(B)s %(M)sms'


class AccessLogWithoutPersonalData(Logger):
    def atoms(self, resp, req, environ, request_time):
        # Imported here, not at the top: the master must not hold the app's modules, or
        # workers started by a reload (SIGHUP) would keep running the old code.
        from microsite.web.logs import redact_path

        atoms = super().atoms(resp, req, environ, request_time)
        path = redact_path(atoms["U"])
        atoms.update(h="-", U=path, q="", f="-", a="-", r=f"{atoms['m']} {path} {atoms['H']}")
        return atoms


logger_class = AccessLogWithoutPersonalData


def post_fork(server, worker):
    """A preloaded app must not share the master's database connections with its workers."""
    if preload_app:
        from microsite.extensions import db

        app = server.app.wsgi()
        with app.app_context():
            db.engine.dispose(close=False)
