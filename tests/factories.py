import datetime

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from dgd import roles
from issues.models import Issue, IssueEntry, Series
from policies.models import Entry, Kind, Level, Region, Status, Theme

ROLE_GROUPS = {"researcher": roles.RESEARCHER, "chief_editor": roles.CHIEF_EDITOR, "sales": roles.SALES}
PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    """A user; ``role`` (researcher, chief_editor, sales) puts them in that group, staff for the first two."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(PASSWORD)

    @classmethod
    def _create(cls, model_class, *args, role=None, **kwargs):
        kwargs.setdefault("is_staff", role in ("researcher", "chief_editor"))
        user = super()._create(model_class, *args, **kwargs)
        if role:
            user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
        return user


class EntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entry
        skip_postgeneration_save = True

    kind = Kind.POLICY
    title = factory.Sequence(lambda n: f"关于推进政务服务第{n}批事项跨省通办的通知")
    issuer = "江苏省人民政府办公厅"
    action = "印发"
    level = Level.PROVINCIAL
    published_on = factory.Sequence(lambda n: datetime.date(2022, 8, 1) - datetime.timedelta(days=n))
    summary = "文件要求推进**高频政务服务事项**跨省通办。"
    status = Status.READY

    @factory.post_generation
    def regions(self, create, extracted, **kwargs):
        if extracted:
            self.regions.set(Region.objects.filter(code__in=extracted))

    @factory.post_generation
    def themes(self, create, extracted, **kwargs):
        if extracted:
            self.themes.set(Theme.objects.filter(slug__in=extracted))


class PracticeEntryFactory(EntryFactory):
    kind = Kind.PRACTICE
    title = factory.Sequence(lambda n: f"某市政务服务创新实践第{n}号")
    issuer = ""
    action = ""
    level = ""


class IssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Issue

    series = factory.LazyFunction(lambda: Series.objects.get(slug="zhengwu"))
    # Years no real issue has (the sample is 2022-08): a factory issue never collides with an imported one.
    year = factory.Sequence(lambda n: 2040 + n // 12)
    month = factory.Sequence(lambda n: n % 12 + 1)
    number = factory.Sequence(lambda n: n + 100)


class IssueEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IssueEntry

    issue = factory.SubFactory(IssueFactory)
    entry = factory.SubFactory(EntryFactory)
    section = "policies"
    position = factory.Sequence(lambda n: n)
