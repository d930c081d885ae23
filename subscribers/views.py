"""Public pages: subscribe, confirm, the preference centre and one-click unsubscribe (RFC 8058)."""

import hashlib

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from dgd.client_ip import client_ip
from subscribers import services
from subscribers.forms import PreferencesForm, SubscribeForm
from subscribers.ratelimit import over_limit
from subscribers.selectors import confirmation_request_from_token, subscriber_preferences
from subscribers.tokens import BadToken, StaleToken, UsedToken, manage_token, read_manage_token


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
                services.subscriber_subscribe(email=email, source="web", **form.service_kwargs())
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
            }
        )
    return render(request, "subscribers/manage.html", {"form": form, "subscriber": subscriber, "token": token})


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
    return render(request, "subscribers/unsubscribe.html", {"token": token})
