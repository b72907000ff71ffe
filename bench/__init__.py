"""Benchmarks, each run as a module from the checkout (`make bench` runs them):

    .venv/bin/python -m bench.export          # leads CSV export against sqlite3 -csv
    .venv/bin/python -m bench.http_pages      # the site against hello-world under gunicorn (wrk)
    .venv/bin/python -m bench.trials_import   # flask trials import: time and peak memory
    .venv/bin/python -m bench.matching        # match_trials latency over a generated catalog
    .venv/bin/python -m bench.places_import   # flask places import of GeoNames dumps
    .venv/bin/python -m bench.alerts          # flask alerts send over 10,000 leads and trials

hello_app.py is the hello-world app of http_pages; the .lua files are its wrk scripts.
"""
