"""django-newsletter 1.2.1 sending the same issue to the same number of recipients, into the same sink.

Run by bench/digests.py with the interpreter of a throwaway venv (var/bench/newsletter-venv) that holds
django-newsletter: it is not a dependency of DGD. Arguments: SINK_PORT COUNT ENTRIES_JSON DB_PATH.
Prints one JSON line: {"sent", "seconds", "message_bytes"}.
"""

import json
import sys
import time

import django
from django.conf import settings

urlpatterns = []  # filled in once settings are configured (ROOT_URLCONF is this module)


def main():
    port, count, entries_path, db_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="__main__",
        SITE_ID=1,
        USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path}},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sites",
            "sorl.thumbnail",  # django-newsletter's default thumbnailer, imported by its models
            "newsletter",
        ],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        DEFAULT_FROM_EMAIL="数字政府动态 <dgd@localhost>",
        LOGGING_CONFIG=None,
    )
    django.setup()
    from django.urls import include, path

    urlpatterns.append(path("newsletter/", include("newsletter.urls")))
    from django.core.management import call_command
    from django.utils import timezone
    from newsletter.models import Article, Message, Newsletter, Submission, Subscription

    call_command("migrate", verbosity=0)
    newsletter = Newsletter.objects.create(
        title="数字政府动态", slug="dgd", email="dgd@localhost", sender="数字政府动态", send_html=True
    )
    newsletter.site.set([1])
    message = Message.objects.create(title="政务服务分册 2022年08月 第04期", slug="2022-08", newsletter=newsletter)
    with open(entries_path, encoding="utf-8") as f:
        entries = json.load(f)
    for n, entry in enumerate(entries):
        Article.objects.create(
            post=message, sortorder=n, title=entry["title"][:200], text=entry["text"], url=entry.get("url") or None
        )
    Subscription.objects.bulk_create(
        [
            Subscription(
                newsletter=newsletter,
                name_field=f"读者{i}",
                email_field=f"subscriber1-{i:06d}@example.org",
                subscribed=True,
                subscribe_date=timezone.now(),
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    submission = Submission.from_message(message)
    submission.publish_date = timezone.now() - timezone.timedelta(seconds=1)
    submission.save()
    sample = submission.get_message(submission.get_subscriptions()[0]).message().as_bytes()
    start = time.perf_counter()
    submission.submit()
    seconds = time.perf_counter() - start
    print(json.dumps({"sent": count, "seconds": seconds, "message_bytes": len(sample)}))


if __name__ == "__main__":
    main()
