"""The trial catalog's upsert: studies stored by NCT id, a batch per transaction, each run
recorded with its counts. Reading files is ``files.py``; one study's rows, ``studies.py``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, select

from ..extensions import db
from ..models import Trial, TrialContact, TrialImport, TrialSite, utcnow
from .files import UnreadableFile, check_readable, read_studies
from .studies import Malformed, Study, parse_study

BATCH_SIZE = 500  # studies per transaction


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0  # seen again exactly as stored: nothing written
    skipped: int = 0
    unknown_countries: Counter = field(default_factory=Counter)  # name as given: sites
    seen: set[str] = field(default_factory=set)  # NCT ids imported in this run

    @property
    def unknown_country_sites(self) -> int:
        return sum(self.unknown_countries.values())


class Importer:
    """Upserts studies by NCT id, ``batch_size`` at a time, one transaction per batch.

    A re-imported trial gets its fields updated and its sites and contacts replaced, unless
    the record is exactly as stored (same digest): then nothing is written for it. Each
    malformed record is passed to ``on_problem(position, reason)`` and skipped. Use as a
    context manager: leaving it records a ``TrialImport`` with the counts; after an
    ``UnreadableFile`` (or another error the caller names in ``keep_on``) the batches
    already parsed are kept and the run is recorded without ``finished_at``.
    """

    def __init__(
        self,
        source: str,
        on_problem: Callable[[str, str], None] | None = None,
        batch_size: int | None = None,
        keep_on: tuple[type[BaseException], ...] = (),
    ):
        self.source = source
        self.on_problem = on_problem or (lambda position, reason: None)
        self.batch_size = batch_size or BATCH_SIZE
        self.keep_on = (UnreadableFile, *keep_on)
        self.report = ImportReport()
        self.started_at = utcnow()
        self._batch: dict[str, Study] = {}

    def __enter__(self) -> Importer:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is not None and not isinstance(error, self.keep_on):
            db.session.rollback()
            return
        self.flush()
        db.session.add(
            TrialImport(
                source=self.source,
                started_at=self.started_at,
                finished_at=utcnow() if error is None else None,
                new=self.report.new,
                updated=self.report.updated,
                unchanged=self.report.unchanged,
                skipped=self.report.skipped,
            )
        )
        db.session.commit()

    def add(self, position: str, raw: object) -> bool:
        """Queue one study; False (and the problem reported) when it is malformed."""
        try:
            study = parse_study(raw)
        except Malformed as problem:
            self.report.skipped += 1
            self.on_problem(position, str(problem))
            return False
        nct_id = study.trial["nct_id"]
        if nct_id in self._batch:  # the same study twice in one batch: the later one counts
            self.flush()
        self._batch[nct_id] = study
        self.report.seen.add(nct_id)
        if len(self._batch) >= self.batch_size:
            self.flush()
        return True

    def flush(self) -> None:
        """Write the queued studies now, in one transaction."""
        if not self._batch:
            return
        batch, self._batch = self._batch, {}
        session = db.session
        existing = {
            trial.nct_id: trial
            for trial in session.scalars(select(Trial).where(Trial.nct_id.in_(list(batch))))
        }
        for study in batch.values():
            for site in study.sites:
                if site["country"] and site["country_code"] is None:
                    self.report.unknown_countries[site["country"]] += 1
        digests = {nct_id: study.digest() for nct_id, study in batch.items()}
        for nct_id, trial in list(existing.items()):
            if trial.content_digest == digests[nct_id]:
                del batch[nct_id], existing[nct_id]
                self.report.unchanged += 1
        if existing:
            ids = [trial.id for trial in existing.values()]
            session.execute(
                delete(TrialSite).where(TrialSite.trial_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            session.execute(
                delete(TrialContact).where(TrialContact.trial_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
        now = utcnow()
        trials = {}
        for nct_id, study in batch.items():
            trial = existing.get(nct_id)
            if trial is None:
                trial = Trial(**study.trial, imported_at=now, content_digest=digests[nct_id])
                session.add(trial)
                self.report.new += 1
            else:
                for key, value in study.trial.items():
                    setattr(trial, key, value)
                trial.imported_at = now
                trial.content_digest = digests[nct_id]
                self.report.updated += 1
            trials[nct_id] = trial
        session.flush()  # the new trials get their ids
        sites = [
            {**site, "trial_id": trials[nct_id].id}
            for nct_id, study in batch.items()
            for site in study.sites
        ]
        contacts = [
            {**contact, "trial_id": trials[nct_id].id}
            for nct_id, study in batch.items()
            for contact in study.contacts
        ]
        if sites:
            session.execute(insert(TrialSite), sites)
        if contacts:
            session.execute(insert(TrialContact), contacts)
        session.commit()
        session.expunge_all()  # memory stays flat however many batches come


def import_files(
    paths: Iterable[str | Path],
    on_problem: Callable[[str, str], None] | None = None,
    batch_size: int | None = None,
) -> ImportReport:
    """Import every study in ``paths`` (``flask trials import``). Every file is checked
    first, so a missing or unreadable file stops the run before anything is imported."""
    paths = list(paths)
    check_readable(paths)
    with Importer("import", on_problem, batch_size) as importer:
        for position, raw in read_studies(paths):
            importer.add(position, raw)
    return importer.report
