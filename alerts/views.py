"""Pages of the alerts: an alert's settings (from the saved filters page), the private feed, the full list of
an alert mail, and the one-click unsubscribe its mail links to. Thin: the services and selectors decide."""

from django.contrib.syndication.views import Feed
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import selectors, services
from alerts.mail import snippet
from alerts.models import AlertMail
from alerts.tokens import UNSUBSCRIBE_SALT, saved_filter_from_token
from issues.views import SafeAtom1Feed
from library.views import library_access


@require_POST
@library_access
def alert_settings(request, pk):
    """The saved filters page's form: how often this filter alerts its owner."""
    try:
        services.alert_set_frequency(user=request.user, saved_filter_id=pk, frequency=request.POST.get("frequency"))
    except ValidationError as invalid:
        return render(request, "alerts/refused.html", {"errors": invalid.messages}, status=400)
    return redirect("library:saved")


@require_POST
@library_access
def feed_rotate(request, pk):
    """A new private feed address; the old one stops working."""
    try:
        services.alert_feed_rotate(user=request.user, saved_filter_id=pk)
    except ValidationError as invalid:
        return render(request, "alerts/refused.html", {"errors": invalid.messages}, status=400)
    return redirect("library:saved")


@require_GET
@library_access
def mail_detail(request, pk):
    """Every entry an alert mail announced (the mail lists the first 50): its owner's alone."""
    mail = get_object_or_404(
        AlertMail.objects.select_related("alert__saved_filter"), pk=pk, alert__saved_filter__user=request.user
    )
    context = {
        "mail": mail,
        "entries": selectors.mail_listed_entries(mail),
        "criteria": selectors.saved_filter_criteria(mail.alert.saved_filter),  # the rows mark its keyword
    }
    return render(request, "alerts/mail_detail.html", context)


@csrf_exempt  # RFC 8058: the mail client POSTs with no session and no CSRF token; the signed link is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET shows a button (a link scanner must not switch the alert off); POST switches it off."""
    found = saved_filter_from_token(token, salt=UNSUBSCRIBE_SALT)
    if found is None or found[1] is None:
        raise Http404(_("This link is not valid (any more)."))
    saved_filter, alert = found
    done = request.method == "POST"
    if done:
        services.alert_unsubscribe(alert=alert)
    return render(request, "alerts/unsubscribe.html", {"saved_filter": saved_filter, "done": done})


class SavedFilterFeed(Feed):
    """A saved filter's private Atom feed: what became ready in the last 30 days among what the library page
    shows for it. Titles are ``type="text"`` (the XML writer escapes them once), as in the issues feed, and
    every string is cleaned of what XML 1.0 cannot hold (``SafeAtom1Feed``)."""

    feed_type = SafeAtom1Feed

    def get_object(self, request, token):
        found = saved_filter_from_token(token)
        if found is None:
            raise Http404
        saved_filter = found[0]
        owner = saved_filter.user
        if not (owner.is_active and owner.has_perm("policies.view_entry")):
            raise PermissionDenied  # the feed reads the library for its owner: no more once they may not
        return saved_filter

    def title(self, saved_filter):
        return f"数字政府动态 · {saved_filter.name}"

    def link(self, saved_filter):
        return saved_filter.get_absolute_url()

    def subtitle(self, saved_filter):
        return _("New in the library for the saved filter «%(name)s»") % {"name": saved_filter.name}

    def items(self, saved_filter):
        return selectors.feed_entries(saved_filter)

    def item_title(self, entry):
        regions = "&".join(region.short_name for region in entry.regions.all())
        return f"【{regions}】{entry.display_title}" if regions else entry.display_title

    def item_description(self, entry):
        return snippet(entry.summary, length=300)

    def item_link(self, entry):
        return reverse("library:entry", args=[entry.pk])

    def item_pubdate(self, entry):
        return entry.ready_at

    def item_updateddate(self, entry):
        return entry.ready_at

    def item_categories(self, entry):
        return [theme.name for theme in entry.themes.all()]
