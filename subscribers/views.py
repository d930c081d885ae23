"""Public pages: subscribe, confirm, the preference centre and one-click unsubscribe (RFC 8058)."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from dgd.client_ip import client_ip
from subscribers import services
from subscribers.forms import PreferencesForm, SubscribeForm
from subscribers.models import Scope, Subscriber
from subscribers.ratelimit import over_limit
from subscribers.selectors import confirmation_request_from_token, subscriber_preferences
from subscribers.tokens import BadToken, StaleToken, UsedToken, manage_token, read_manage_token, read_weekly_token


def _bad_token(request, error=None):
    """400 with a page that says why: a bad or expired link, a used one, or one a later change superseded."""
    reason = "used" if isinstance(error, UsedToken) else "stale" if isinstance(error, StaleToken) else "invalid"
    return render(request, "subscribers/bad_token.html", {"reason": reason}, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
def subscribe(request):
    if request.method == "POST":
        if over_limit(f"ip:{client_ip(request)}", settings.SUBSCRIBERS_RATE_LIMIT):
            return render(request, "subscribers/rate_limited.html", status=429)
        form = SubscribeForm(request.POST)
        if form.is_valid():
            email = services.normalise_email(form.cleaned_data["email"])
            digest = hashlib.sha256(email.encode()).hexdigest()
            # Bots (the hidden field) and repeated requests for one address get the same answer and no mail.
            if not form.cleaned_data["website"] and not over_limit(
                f"email:{digest}", settings.SUBSCRIBERS_EMAIL_RATE_LIMIT
            ):
                services.subscriber_subscribe(
                    email=email,
                    source="web",
                    notice_version=settings.PRIVACY_NOTICE_VERSION,
                    **form.service_kwargs(),
                )
            return redirect("subscribers:subscribe_done")
    else:
        form = SubscribeForm()
    return render(request, "subscribers/subscribe.html", {"form": form})


def subscribe_done(request):
    return render(request, "subscribers/subscribe_done.html")


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """GET shows a page with a button and changes nothing (mail scanners fetch links); its POST confirms."""
    try:
        if request.method == "POST":
            subscriber = services.subscriber_confirm(token=token)
        else:
            confirmation = confirmation_request_from_token(token)
    except BadToken as error:
        return _bad_token(request, error)
    if request.method == "GET":
        return render(request, "subscribers/confirm.html", {"token": token, "subscriber": confirmation.subscriber})
    token = manage_token(subscriber.pk)
    return render(request, "subscribers/confirmed.html", {"subscriber": subscriber, "token": token})


@never_cache
@require_http_methods(["GET", "POST"])
def manage(request, token):
    try:
        subscriber = services.subscriber_from_manage_token(token)
    except BadToken:
        return _bad_token(request)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.subscriber_update_preferences(subscriber=subscriber, **form.service_kwargs())
            messages.success(request, _("Your preferences are saved."))
            return redirect("subscribers:manage", token=token)
    else:
        preferences = subscriber_preferences(subscriber)
        form = PreferencesForm(
            initial={
                "name": subscriber.name,
                "organisation": subscriber.organisation,
                "provinces": preferences["provinces"],
                "themes": preferences["themes"],
                "scope": subscriber.scope,
                "weekly": subscriber.weekly,
            }
        )
    context = {"form": form, "subscriber": subscriber, "token": token, "has_preferences": _has_preferences(subscriber)}
    return render(request, "subscribers/manage.html", context)


def _keep_preferences_with_scope(subscriber, scope):
    """Save the subscriber's preferences as they stand with another scope (through the preference centre's
    service, so confirmation links asked for before now stop applying, as after any change)."""
    preferences = subscriber_preferences(subscriber)
    services.subscriber_update_preferences(
        subscriber=subscriber,
        name=subscriber.name,
        organisation=subscriber.organisation,
        provinces=preferences["provinces"],
        themes=preferences["themes"],
        scope=scope,
    )


@never_cache
@require_POST
def fewer(request, token):
    """The unsubscribe page's alternatives: only what matches me, only the links, a pause, or resuming."""
    try:
        subscriber = services.subscriber_from_manage_token(token)
    except BadToken:
        return _bad_token(request)
    choice = request.POST.get("choice")
    if choice == "matching":
        if not (subscriber.provinces.exists() or subscriber.themes.exists()):
            messages.warning(request, _("Choose at least one province or theme first, then pick this option."))
            return redirect("subscribers:manage", token=token)
        _keep_preferences_with_scope(subscriber, Scope.MATCHING)
        messages.success(request, _("From the next issue you receive only what matches your provinces and themes."))
    elif choice == "links":
        _keep_preferences_with_scope(subscriber, Scope.LINKS)
        messages.success(request, _("From the next issue you receive a short mail with the links only."))
    elif choice in PAUSES:
        until = timezone.now() + timedelta(days=PAUSES[choice])
        services.subscriber_pause(subscriber_id=subscriber.pk, until=until)
        messages.success(
            request,
            _("Your subscription is paused until %(date)s.") % {"date": timezone.localdate(until).isoformat()},
        )
    elif choice == "resume":
        services.subscriber_pause(subscriber_id=subscriber.pk, until=None)
        messages.success(request, _("Your subscription is running again."))
    else:
        return HttpResponseBadRequest()
    return redirect("subscribers:manage", token=token)


PAUSES = {"pause30": 30, "pause90": 90}  # days


@never_cache
@require_http_methods(["GET", "POST"])
def erase(request, token):
    """PIPL's right to deletion: a page that says what goes, and its POST (CSRF-protected) deletes it all."""
    try:
        subscriber = services.subscriber_from_manage_token(token)
    except BadToken:
        return _bad_token(request)
    if request.method == "POST":
        services.subscriber_erase(subscriber_id=subscriber.pk)
        return render(request, "subscribers/erased.html")
    return render(request, "subscribers/erase.html", {"subscriber": subscriber, "token": token})


@csrf_exempt  # RFC 8058: the one-click POST comes from a mail client, with no cookie and no CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        subscriber_id = read_manage_token(token)
    except BadToken:
        return _bad_token(request)
    if request.method == "POST":
        services.subscriber_unsubscribe(subscriber_id=subscriber_id)
        return render(request, "subscribers/unsubscribed.html", {"token": token})
    subscriber = Subscriber.objects.filter(pk=subscriber_id).prefetch_related("provinces", "themes").first()
    if subscriber is None:  # erased: nothing left to unsubscribe
        return _bad_token(request)
    context = {"token": token, "subscriber": subscriber, "has_preferences": _has_preferences(subscriber)}
    return render(request, "subscribers/unsubscribe.html", context)


@csrf_exempt  # RFC 8058: the 快讯's one-click POST comes from a mail client, with no cookie and no CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def weekly_off(request, token):
    """The 快讯's unsubscribe link: a GET shows the button (a link scanner changes nothing), its POST switches the
    weekly mail off; the monthly digest goes on."""
    try:
        subscriber_id = read_weekly_token(token)
    except BadToken:
        return _bad_token(request)
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:  # erased
        return _bad_token(request)
    context = {"token": token, "done": request.method == "POST"}
    if request.method == "POST":
        services.subscriber_weekly_off(subscriber_id=subscriber_id)
    return render(request, "subscribers/weekly_off.html", context)


def _has_preferences(subscriber):
    return bool(subscriber.provinces.all() or subscriber.themes.all())
