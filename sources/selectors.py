"""Reads of the inbox."""

from django.db.models import Prefetch

from sources.models import Candidate, Sighting


def candidates_queue():
    """Every candidate, newest first, with what the queue shows of it."""
    return Candidate.objects.queue().prefetch_related(
        "regions", "themes", Prefetch("sightings", queryset=Sighting.objects.order_by("found_at", "pk"))
    )


def candidate_as_dict(candidate):
    """The shape ``list_candidates --format json`` prints (the issue's)."""
    return {
        "title": candidate.title,
        "url": candidate.url,
        "date": candidate.published_on.isoformat() if candidate.published_on else None,
        "issuer": candidate.issuer,
        "doc_number": candidate.doc_number,
        "level": candidate.level,
        "regions": sorted(region.code for region in candidate.regions.all()),
        "themes": [theme.slug for theme in candidate.themes.all()],
        "sources": [sighting.url for sighting in candidate.sightings.all()],
        "duplicate_of": candidate.duplicate_of_id,
        "status": candidate.status,
    }


def candidates_as_dicts():
    return [candidate_as_dict(candidate) for candidate in candidates_queue()]
