"""Operator commands, run as ``flask --app microsite ...``. They call the same functions
as the site."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .content import load_testimonials


content = AppGroup("content", help="Manage the site's content.")


@content.command("load", help="Load the sample testimonials, published. Safe to run again.")
def content_load() -> None:
    result = load_testimonials()
    click.echo(
        f"Testimonials: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(content)
