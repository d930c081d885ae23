"""Reads: subscribers' preferences, what a digest holds for a set of preferences, delivery reports."""

from django.db.models import Count

from subscribers.models import Delivery, DeliveryStatus, Scope, Subscriber


def subscriber_preferences(subscriber):
    """The preferences as plain data (what a confirmation token carries and a digest is grouped by)."""
    return {
        "scope": subscriber.scope,
        "provinces": sorted(region.code for region in subscriber.provinces.all()),
        "themes": sorted(theme.slug for theme in subscriber.themes.all()),
    }


def preferences_key(preferences):
    """Subscribers with equal keys get the same digest, apart from their name and their links."""
    return (preferences["scope"], tuple(sorted(preferences["provinces"])), tuple(sorted(preferences["themes"])))


def entry_matches(entry, *, provinces, themes):
    """An entry matches when it concerns one of the provinces (a city counts for its province) or carries one
    of the themes."""
    if any(int(code) // 10000 * 10000 in provinces for code in entry["regions"]):
        return True
    return any(slug in themes for slug in entry["themes"])


def digest_content(data, *, scope, provinces, themes, matching_numbers=None):
    """What one digest holds: ``matching`` (entries matching the preferences, in issue order) and ``sections``
    (the rest of the issue, for those who take the whole issue). Both empty means: send nothing.
    ``matching_numbers`` (entry numbers already matched, or None for no preferences) replaces the preferences."""
    provinces, themes = set(provinces), set(themes)
    if matching_numbers is not None:
        matching_numbers = set(matching_numbers)
    has_preferences = bool(provinces or themes or matching_numbers is not None)
    matching, sections = [], []
    for section in data["sections"]:
        rest = []
        for entry in section["entries"]:
            if matching_numbers is not None:
                matches = entry["number"] in matching_numbers
            else:
                matches = has_preferences and entry_matches(entry, provinces=provinces, themes=themes)
            if matches:
                matching.append({**entry, "section_title": section["title"]})
            else:
                rest.append(entry)
        if scope == Scope.WHOLE and rest:
            sections.append({**section, "entries": rest})
    return {"matching": matching, "sections": sections, "has_preferences": has_preferences}


def delivery_counts(*, issue_id):
    """``{"total", "sent", "failed", "pending", "skipped"}``; rows being sent count as pending."""
    counts = dict.fromkeys(DeliveryStatus.values, 0)
    for row in Delivery.objects.filter(issue_id=issue_id).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return {
        "total": sum(counts.values()),
        "sent": counts[DeliveryStatus.SENT],
        "failed": counts[DeliveryStatus.FAILED],
        "pending": counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.SENDING],
        "skipped": counts[DeliveryStatus.SKIPPED],
    }


def deliveries_failed(*, issue_id):
    return Delivery.objects.filter(issue_id=issue_id, status=DeliveryStatus.FAILED).select_related("subscriber")


def subscribers_for_export(queryset=None):
    queryset = Subscriber.objects.all() if queryset is None else queryset
    return queryset.prefetch_related("provinces", "themes").order_by("id")
