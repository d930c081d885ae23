"""Deterministic demo subscribers (``seed_demo --subscribers M`` calls ``seed_subscribers``)."""

import random

from django.db import transaction
from django.utils import timezone

from policies.models import Region, RegionKind, Theme
from subscribers.models import Scope, Subscriber, SubscriberStatus

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英"]
ORGANISATIONS = ["省政务服务管理局", "市大数据局", "区行政审批局", "省发展改革委", "市营商环境办", "研究院", "信息中心"]


def seed_subscribers(*, count, seed=0, domain="example.org"):
    """Create ``count`` confirmed subscribers with varied preferences, the same for the same ``seed``: about a
    third take the whole issue with no preferences, a third the whole issue with theirs first, a third only
    what matches their provinces and themes. Addresses already present are left alone. Returns the number
    created."""
    rng = random.Random(seed)
    provinces = list(Region.objects.filter(kind=RegionKind.PROVINCE).order_by("code").values_list("code", flat=True))
    themes = list(Theme.objects.order_by("position", "id").values_list("pk", flat=True))
    now = timezone.now()
    rows, prefs = [], []
    for i in range(count):
        kind = i % 3
        scope = Scope.MATCHING if kind == 2 else Scope.WHOLE
        chosen_provinces = rng.sample(provinces, k=min(len(provinces), rng.randint(1, 2))) if kind and provinces else []
        chosen_themes = rng.sample(themes, k=min(len(themes), rng.randint(0, 2))) if kind and themes else []
        if kind == 2 and not chosen_provinces and not chosen_themes and themes:
            chosen_themes = [themes[0]]
        rows.append(
            Subscriber(
                email=f"subscriber{seed}-{i:06d}@{domain}",
                name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                organisation=rng.choice(ORGANISATIONS),
                scope=scope,
                status=SubscriberStatus.CONFIRMED,
                source="demo",
                consent_at=now,
                confirmed_at=now,
            )
        )
        prefs.append((chosen_provinces, chosen_themes))
    with transaction.atomic():
        existing = set(Subscriber.objects.filter(email__in=[r.email for r in rows]).values_list("email", flat=True))
        new = [(row, pref) for row, pref in zip(rows, prefs, strict=True) if row.email not in existing]
        Subscriber.objects.bulk_create([row for row, _ in new], batch_size=2000)
        by_email = dict(Subscriber.objects.filter(email__in=[row.email for row, _ in new]).values_list("email", "pk"))
        province_links, theme_links = [], []
        for row, (codes, theme_ids) in new:
            pk = by_email[row.email]
            province_links += [Subscriber.provinces.through(subscriber_id=pk, region_id=code) for code in codes]
            theme_links += [Subscriber.themes.through(subscriber_id=pk, theme_id=tid) for tid in theme_ids]
        Subscriber.provinces.through.objects.bulk_create(province_links, batch_size=5000)
        Subscriber.themes.through.objects.bulk_create(theme_links, batch_size=5000)
    return len(new)
