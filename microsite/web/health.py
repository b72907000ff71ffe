"""``/healthz``: what a load balancer or monitor asks before sending traffic."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("healthz: database unavailable (%s)", type(error).__name__)
        response = jsonify(status="error")
        response.status_code = 503
    else:
        response = jsonify(status="ok")
    response.cache_control.no_store = True
    return response
