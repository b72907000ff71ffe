"""The floor for bench/http_pages.py: a hello-world Flask app, served by the very same
gunicorn configuration as the site (`gunicorn -c gunicorn.conf.py bench.hello_app:app`).

It answers the benchmark's `GET /` and `GET /apply` with as little work as Flask allows:
`GET /` says hello; `GET /apply` is a tiny form with a CSRF-like token (also set as a
cookie) and an idempotency key. `POST /apply` parses the form, checks the token against
the cookie and redirects (303) to /apply/thanks, so bench/apply_flow.lua runs against it
too; the apply flow's floor is bench/baseline_app.py, which validates and stores. No
templates, no database.
"""

from __future__ import annotations

import secrets

from flask import Flask, make_response, redirect, request

app = Flask(__name__)

FORM = (
    '<!doctype html><html lang="en"><title>Apply</title>'
    '<form method="post" action="/apply">'
    '<input name="csrf_token" type="hidden" value="{token}">'
    '<input name="idempotency_key" type="hidden" value="{key}">'
    '<input name="hp_extra_notes" value=""><button>Send</button></form></html>'
)


@app.get("/")
def hello():
    return "Hello, World!"


@app.route("/apply", methods=["GET", "POST"])
def apply():
    if request.method == "POST":
        if not request.form.get("csrf_token") or request.form["csrf_token"] != request.cookies.get(
            "session"
        ):
            return "The token does not match.", 400
        return redirect("/apply/thanks", 303)
    token = secrets.token_urlsafe(32)
    response = make_response(FORM.format(token=token, key=secrets.token_hex(16)))
    response.set_cookie("session", token, httponly=True, samesite="Lax")
    return response
