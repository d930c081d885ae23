"""The subscription mails as a kind of the mail engine (``mailings``): one batch per subscribe request (its key
drawn when the request is made), so the task that mails it may run twice and mails once.

When the batch is made the mail is decided: a confirmation link for the request (one is made for the
preferences when the request has none: a CSV import), or, for an address already confirmed, its
preference-centre link."""

from django.conf import settings
from django.urls import reverse

from mailings.kinds import Kind, Outgoing, Recipient, register
from subscribers.digests import absolute, personal_links
from subscribers.models import ConfirmationRequest, Subscriber
from subscribers.tokens import confirm_token

KIND = "subscription"


def subscription_recipients(batch):
    from subscribers.services.subscriptions import _confirmation_request_create

    params = batch.params
    subscriber = Subscriber.objects.filter(pk=params["subscriber_id"]).first()
    if subscriber is None:
        return []
    if subscriber.is_confirmed:
        payload = {"mail": "already"}
    else:
        request_id = params.get("request_id")
        request = subscriber.confirmation_requests.filter(pk=request_id).first() if request_id else None
        if request is None:
            request = _confirmation_request_create(subscriber=subscriber, preferences=params["preferences"])
        payload = {"mail": "confirm", "request_id": request.pk}
    return [Recipient(key=str(subscriber.pk), email=subscriber.email, payload=payload)]


def subscription_prepare(batch, messages):
    prepared = {}
    for message in messages:
        subscriber = Subscriber.objects.filter(pk=int(message.recipient)).first()
        if subscriber is None:
            prepared[message.pk] = "erased"
            continue
        mail = message.payload["mail"]
        if mail == "already":
            context = {"manage_url": personal_links(subscriber.pk)["manage"]}
        else:
            request = ConfirmationRequest.objects.filter(pk=message.payload["request_id"]).first()
            if request is None:
                prepared[message.pk] = "request gone"
                continue
            context = {
                "confirm_url": absolute(reverse("subscribers:confirm", args=[confirm_token(request.nonce)])),
                "days": settings.SUBSCRIBERS_CONFIRM_MAX_AGE // 86400,
            }
        # A confirmation greets no one by name: the name is whatever a stranger typed for this address, and a
        # mail from the institute must not carry a stranger's text (a phishing line, a link) to its owner.
        context |= {"subscriber": subscriber, "name": subscriber.name if mail == "already" else ""}
        prepared[message.pk] = Outgoing(context=context, templates=f"email/subscribers/{mail}")
    return prepared


SUBSCRIPTION = register(
    Kind(
        name=KIND,
        templates="email/subscribers/confirm",
        recipients=subscription_recipients,
        prepare=subscription_prepare,
    )
)
