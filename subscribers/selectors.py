"""Reads: subscribers' preferences, what a digest holds for a set of preferences, delivery reports."""

from collections import Counter

from django.db.models import Count

from issues.selectors import issue_data
from subscribers.models import ConfirmationRequest, Delivery, DeliveryStatus, Fanout, Scope, Subscriber
from subscribers.tokens import BadToken, StaleToken, UsedToken, read_confirm_token


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


def confirmation_request_refusal(request, subscriber):
    """Why a confirmation request may not be used (an exception to raise), or None. A request is used once, and
    never undoes an unsubscribe or a preference change made after it was asked for."""
    if request.used_at is not None:
        return UsedToken("already used")
    for later in (subscriber.unsubscribed_at, subscriber.preferences_requested_at):
        if later is not None and request.created_at <= later:
            return StaleToken("superseded")
    return None


def confirmation_request_from_token(token):
    """The usable confirmation request a link names (for its page); raises BadToken, UsedToken or StaleToken."""
    request = ConfirmationRequest.objects.select_related("subscriber").filter(nonce=read_confirm_token(token)).first()
    if request is None:
        raise BadToken("no such request")
    refusal = confirmation_request_refusal(request, request.subscriber)
    if refusal is not None:
        raise refusal
    return request


def fanout_preview(*, issue):
    """Who publishing ``issue`` now would mail: ``{"confirmed", "recipients", "nothing"}`` — the confirmed
    subscribers, those whose digest would hold something, and those whose preferences select none of its entries
    (they only take what matches them, and nothing does: they get no mail)."""
    data = issue_data(issue)  # what publishing it publishes (or, once published, what it published)
    groups = Counter(
        preferences_key(subscriber_preferences(subscriber))
        for subscriber in Subscriber.objects.confirmed().prefetch_related("provinces", "themes")
    )
    nothing = 0
    for (scope, provinces, themes), count in groups.items():
        content = digest_content(data, scope=scope, provinces=provinces, themes=themes)
        # "Only the links" mails everyone (the introduction and the links) whatever their preferences select.
        if scope != Scope.LINKS and not content["matching"] and not content["sections"]:
            nothing += count
    confirmed = sum(groups.values())
    return {"confirmed": confirmed, "recipients": confirmed - nothing, "nothing": nothing}


def delivery_progress(*, issue_id):
    """An issue's digests as the admin follows them: ``delivery_counts`` and whether the fan-out (creating the
    deliveries after publication) is ``done``."""
    fanout = Fanout.objects.filter(pk=issue_id).values_list("deliveries_created_at", flat=True).first()
    return {**delivery_counts(issue_id=issue_id), "fanout_done": fanout is not None}
