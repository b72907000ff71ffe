"""The public page of a trial (``/trials/<NCT id>``) and the trials the sitemap lists.

What the page shows comes from one function, ``trial_page``: the trial with its sites and
central contacts loaded in its queries (anything else raises rather than query from the
template), the record's markdown (summary, eligibility criteria) rendered safely, the
criteria split into inclusion and exclusion parts (``criteria.py``), and the sites grouped
by country and state.

The record's markdown is rendered by markdown-it-py (CommonMark, raw HTML off, so HTML in
the record shows as text; no images, which would load from another host; no indented code
blocks, which the records' indented lists would become), then sanitized by nh3 with a
small allow-list: links only to http(s) addresses, with rel="nofollow noopener
noreferrer". Backslash escapes (``\\<``, ``\\[``, as ClinicalTrials.gov writes them) come
out as the characters. Both libraries are imported on first use, so commands that never
render a page never load them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import raiseload, selectinload

from ..choices import OPEN_TRIAL_STATUSES, country_names
from ..extensions import db
from ..models import Trial, TrialSite
from ..text import fold_accents
from .criteria import EXCLUSION, INCLUSION, Part, split_criteria
from .matching import age_range_text, phase_label, status_label
from .studies import NCT_ID

CTGOV_STUDY_URL = "https://clinicaltrials.gov/study/{nct_id}"
REGION_NOT_GIVEN = _l("State or region not given")  # beside states that are
SITEMAP_LIMIT = 50_000  # URLs in one sitemap file (sitemaps.org)

# --- The record's markdown, rendered safely ------------------------------------------------

ALLOWED_TAGS = {
    "p",
    "br",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "a",
    "code",
    "blockquote",
    "hr",
    "h3",
    "h4",
    "h5",
    "h6",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
LINK_REL = "nofollow noopener noreferrer"


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).disable(["image", "code"])


def render_markdown(text: str | None, top_level: int = 3) -> Markup:
    """``text`` (the record's markdown) as safe HTML; its headings start at ``top_level``."""
    if not text or not text.strip():
        return Markup("")
    import nh3

    parser = _parser()
    tokens = parser.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(top_level + int(token.tag[1]) - 1, 6)}"
    html = parser.renderer.render(tokens, parser.options, {})
    return Markup(
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes={"http", "https"},
            url_relative="deny",
            link_rel=LINK_REL,
        )
    )


# --- The page's data -----------------------------------------------------------------------


@dataclass
class CriteriaPart:
    label: str | None  # the record's own heading when it says more ("Key ...", "for Part A")
    html: Markup


@dataclass
class Criteria:
    lead_in: Markup  # text before the first heading
    inclusion: list[CriteriaPart]
    exclusion: list[CriteriaPart]
    whole: Markup  # the criteria as one text, when they have no headings

    @property
    def split(self) -> bool:
        return bool(self.inclusion or self.exclusion)


@dataclass
class Site:
    facility: str | None
    city: str | None
    status_label: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None


@dataclass
class Region:
    name: str | None  # the state or region; None when no site of the country names one
    sites: list[Site]


@dataclass
class Country:
    name: str | None  # None when the record gives none
    regions: list[Region]

    @property
    def site_count(self) -> int:
        return sum(len(region.sites) for region in self.regions)


@dataclass
class Contact:
    name: str | None
    phone: str | None
    email: str | None


@dataclass
class TrialPage:
    nct_id: str
    title: str
    is_open: bool
    status_label: str
    phase_label: str
    ages: str
    summary: Markup
    criteria: Criteria
    countries: list[Country]
    contacts: list[Contact]
    last_update_on: date | None
    imported_at: datetime
    ctgov_url: str

    @property
    def site_count(self) -> int:
        return sum(country.site_count for country in self.countries)


def trial_page(nct_id: str) -> TrialPage | None:
    """Everything the page of trial ``nct_id`` shows, or None: no such trial, or not an
    NCT id at all."""
    if not NCT_ID.fullmatch(nct_id):
        return None
    trial = db.session.scalar(
        select(Trial)
        .where(Trial.nct_id == nct_id)
        .options(selectinload(Trial.sites), selectinload(Trial.contacts), raiseload("*"))
    )
    if trial is None:
        return None
    return TrialPage(
        nct_id=trial.nct_id,
        title=trial.brief_title,
        is_open=trial.overall_status in OPEN_TRIAL_STATUSES,
        status_label=status_label(trial.overall_status),
        phase_label=phase_label(trial.phases),
        ages=age_range_text(trial.min_age_months, trial.max_age_months),
        summary=render_markdown(trial.brief_summary),
        criteria=_criteria(trial.eligibility_criteria),
        countries=_countries(trial.sites),
        contacts=[
            Contact(contact.name, contact.phone, contact.email)
            for contact in trial.contacts
            if contact.name or contact.phone or contact.email
        ],
        last_update_on=trial.last_update_on,
        imported_at=trial.imported_at,
        ctgov_url=CTGOV_STUDY_URL.format(nct_id=trial.nct_id),
    )


def _criteria(text: str | None) -> Criteria:
    """The criteria in their parts (headings one level below the page's "Inclusion
    criteria" and the part's own label), or whole when they have no headings."""
    split = split_criteria(text or "")
    if not split.parts:
        return Criteria(Markup(""), [], [], render_markdown(text))

    def parts(kind: str) -> list[CriteriaPart]:
        found: list[Part] = split.of_kind(kind)
        return [CriteriaPart(part.label, render_markdown(part.text, top_level=5)) for part in found]

    return Criteria(render_markdown(split.lead_in), parts(INCLUSION), parts(EXCLUSION), Markup(""))


def _by_name(value: str | None) -> tuple[bool, str]:
    """Sorts by name, any case and accents aside ("Türkiye" with the T's), nameless last."""
    return (value is None, fold_accents(value or "").casefold())


def _site(site: TrialSite) -> Site:
    return Site(
        site.facility,
        site.city,
        status_label(site.status),
        site.contact_name,
        site.contact_phone,
        site.contact_email,
    )


def _countries(sites: list[TrialSite]) -> list[Country]:
    """The sites by country (our name for its ISO code, else the name as given) and by
    state, both by name; in a state, sites by city, then facility."""
    grouped: dict[str | None, dict[str | None, list[TrialSite]]] = defaultdict(
        lambda: defaultdict(list)
    )
    names = country_names()  # in the page's language
    for site in sites:
        grouped[names.get(site.country_code or "", site.country)][site.state].append(site)
    countries = []
    for name in sorted(grouped, key=_by_name):
        regions = grouped[name]
        countries.append(
            Country(
                name,
                [
                    Region(
                        region or (REGION_NOT_GIVEN if len(regions) > 1 else None),
                        [
                            _site(site)
                            for site in sorted(
                                regions[region],
                                key=lambda site: (_by_name(site.city), _by_name(site.facility)),
                            )
                        ],
                    )
                    for region in sorted(regions, key=_by_name)
                ],
            )
        )
    return countries


# --- The sitemap ---------------------------------------------------------------------------


def open_trials(limit: int) -> list[tuple[str, datetime]]:
    """(NCT id, when we last stored a change to it) of at most ``limit`` open trials, by
    NCT id."""
    rows = db.session.execute(
        select(Trial.nct_id, Trial.imported_at)
        .where(Trial.overall_status.in_(OPEN_TRIAL_STATUSES))
        .order_by(Trial.nct_id)
        .limit(limit)
    )
    return [(nct_id, imported_at) for nct_id, imported_at in rows]
