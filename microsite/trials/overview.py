"""How big and how fresh the trial catalog is, for the staff trials page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from ..choices import OPEN_TRIAL_STATUSES
from ..extensions import db
from ..models import Trial, TrialImport
from .matching import status_label


@dataclass
class CatalogOverview:
    trials: int
    open_trials: int  # the ones matching looks at
    per_status: list[tuple[str, str, int]]  # (status, its label, trials), most first
    newest_update: date | None  # the latest "last update" of any trial
    last_run: TrialImport | None  # the last import or sync that finished
    runs: list[TrialImport]  # the latest runs, finished or not, newest first


def catalog_overview(runs: int = 10) -> CatalogOverview:
    counts = db.session.execute(
        select(Trial.overall_status, func.count(Trial.id))
        .group_by(Trial.overall_status)
        .order_by(func.count(Trial.id).desc(), Trial.overall_status)
    ).all()
    return CatalogOverview(
        trials=sum(n for _, n in counts),
        open_trials=sum(n for status, n in counts if status in OPEN_TRIAL_STATUSES),
        per_status=[(status, status_label(status), n) for status, n in counts],
        newest_update=db.session.scalar(select(func.max(Trial.last_update_on))),
        last_run=db.session.scalar(
            select(TrialImport)
            .where(TrialImport.finished_at.is_not(None))
            .order_by(TrialImport.finished_at.desc(), TrialImport.id.desc())
            .limit(1)
        ),
        runs=list(
            db.session.scalars(select(TrialImport).order_by(TrialImport.id.desc()).limit(runs))
        ),
    )
