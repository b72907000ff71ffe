"""`make audit`: Lighthouse scores of the public pages (run_audit.py, run as a module)."""
