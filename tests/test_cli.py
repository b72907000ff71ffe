"""Operator commands, through the Flask CLI."""

from __future__ import annotations

from sqlalchemy import select

from microsite import models
from microsite.extensions import db
from tests.helpers import count


def test_content_load_is_idempotent(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["content", "load"])
    assert first.exit_code == 0
    assert first.output.splitlines()[0] == "Testimonials: 4 added, 0 updated, 0 unchanged."
    second = runner.invoke(args=["content", "load"])
    assert second.output.splitlines()[0] == "Testimonials: 0 added, 0 updated, 4 unchanged."
    assert count(app, models.Testimonial) == 4


def test_content_load_repairs_edited_text_and_keeps_unpublished_ones_hidden(app, runner):
    with app.app_context():
        frank = db.session.scalar(select(models.Testimonial).filter_by(slug="frank-kaons"))
        frank.quote = "edited"
        doris = db.session.scalar(select(models.Testimonial).filter_by(slug="doris-webber"))
        doris.published = False
        db.session.commit()
    result = runner.invoke(args=["content", "load"])
    assert result.output.splitlines()[0] == "Testimonials: 0 added, 1 updated, 3 unchanged."
    with app.app_context():
        assert db.session.scalar(
            select(models.Testimonial.quote).filter_by(slug="frank-kaons")
        ).startswith("They have")
        assert (
            db.session.scalar(select(models.Testimonial.published).filter_by(slug="doris-webber"))
            is False
        )


def test_content_help_says_what_it_does(runner):
    result = runner.invoke(args=["content", "load", "--help"])
    assert result.exit_code == 0
    assert "load" in result.output and "Safe to run again" in result.output
