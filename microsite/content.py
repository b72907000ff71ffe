"""Site content kept as data: the article's review date and the sample testimonials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from .extensions import db
from .models import Testimonial

# Change this when someone has checked the article against current research.
ARTICLE_LAST_REVIEWED = date(2026, 11, 28)

# The four testimonials of the page we started from, word for word: they are quotes.
TESTIMONIALS = (
    {
        "slug": "frank-kaons",
        "author": "Frank Kaons",
        "quote": "They have turned my life over a new leaf. I owned these guys at @ctfhelp "
        "a lot for my body to be able to recover as today.",
    },
    {
        "slug": "doris-webber",
        "author": "Doris Webber",
        "quote": "This services @ctfhelp have more power than I think in the first place. "
        "It helps connect patients with potential doctor.",
    },
    {
        "slug": "fiona-mcclure",
        "author": "Fiona McClure",
        "quote": "Your help in this challenging period is greatly appreciated. Our entire "
        "family extends our thanks for what @ctfhelp have done.",
    },
    {
        "slug": "selena-mcguaery",
        "author": "Selena McGuaery",
        "quote": "They have come to me when I felt the most desperate and shed a light on "
        "my way. Thank you @ctfhelp center sincerely.",
    },
)


@dataclass(frozen=True)
class LoadResult:
    added: int
    updated: int
    unchanged: int


def load_testimonials() -> LoadResult:
    """Insert the sample testimonials, published; bring changed ones up to date.

    Running it again changes nothing, and a testimonial that staff unpublished stays so.
    """
    existing = {t.slug: t for t in db.session.scalars(select(Testimonial))}
    added = updated = 0
    for position, item in enumerate(TESTIMONIALS):
        testimonial = existing.get(item["slug"])
        if testimonial is None:
            db.session.add(Testimonial(**item, position=position, published=True))
            added += 1
        elif (testimonial.quote, testimonial.author, testimonial.position) != (
            item["quote"],
            item["author"],
            position,
        ):
            testimonial.quote = item["quote"]
            testimonial.author = item["author"]
            testimonial.position = position
            updated += 1
    db.session.commit()
    return LoadResult(added, updated, len(TESTIMONIALS) - added - updated)


def published_testimonials() -> list[Testimonial]:
    query = (
        select(Testimonial)
        .where(Testimonial.published.is_(True))
        .order_by(Testimonial.position, Testimonial.id)
    )
    return list(db.session.scalars(query))


def _free_slug(author: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", author.lower()).strip("-")[:50] or "testimonial"
    slug, n = base, 1
    while db.session.scalar(select(Testimonial.id).filter_by(slug=slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def save_testimonial(testimonial: Testimonial | None, answers: dict) -> Testimonial:
    """Add a testimonial (at the end of the carousel) or change one. The caller commits."""
    if testimonial is None:
        last = db.session.scalar(select(func.max(Testimonial.position))) or 0
        testimonial = Testimonial(slug=_free_slug(answers["author"]), position=last + 1)
        db.session.add(testimonial)
    testimonial.author = answers["author"]
    testimonial.quote = answers["quote"]
    testimonial.consent_given_on = answers["consent_given_on"]
    testimonial.published = answers["published"]
    return testimonial
