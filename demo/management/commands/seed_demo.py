"""Deterministic synthetic catalogue data at scale, for demos and benchmarks.

    python manage.py seed_demo --entries 1000000 --subscribers 1000 --seed 1

Entries are built from the sample issue's vocabulary (titles, issuing bodies, summary sentences), spread
over every province (weighted: 广东 often, 西藏 rarely) and its cities, the themes their text suggests,
every level and kind, and dates from 2019 on. Title, issuer, level and regions agree: a national or ministry
policy (国家级, 部委) has no region; a provincial one is issued by a body of the province it is tagged with;
a municipal one by a body of the city it is tagged with, together with its province; a practice names the
city or county it is tagged with, together with its province. The same seed gives the same content. Rows go
in with COPY on PostgreSQL (bulk_create elsewhere); the library's index tables are filled through
``policies.indexing.entries_reindex`` with tokens segmented once per sentence (sentences end in 。, which jieba
never segments across), and the counts table is rebuilt once at the end.

The whole load is one transaction: interrupted, it leaves the catalogue as it was. On PostgreSQL, a load at
least as large as the catalogue already is builds the indexes once instead of row by row
(``demo.bulk.indexes_deferred``): the entries' and tags' indexes after the entries are in, the index and
counts tables' after those are filled (3½ minutes for a million entries on two cores; ``-v 2`` says
where the time goes).
"""

import contextlib
import datetime
import random
import time
from collections.abc import Mapping

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max

from demo.bulk import indexes_deferred
from demo.subscribers import seed_subscribers
from policies.indexing import catalogue_counts_refresh, entries_reindex, entry_search_text, index_tokens
from policies.models import (
    CatalogueCount,
    CatalogueFacts,
    Entry,
    Kind,
    Level,
    Region,
    RegionKind,
    Status,
    Theme,
)

# Province short name → weight (per cent of entries, about): the sample and the measured data set.
WEIGHTS = {"广东": 19, "西藏": 1.8, "台湾": 0, "江苏": 8, "浙江": 8, "北京": 6, "上海": 6, "山东": 5, "四川": 4}
TOPICS = [
    "政务服务“一网通办”",
    "电子证照应用",
    "政务服务“跨省通办”",
    "营商环境优化",
    "“放管服”改革",
    "“证照分离”改革",
    "证明事项告知承诺制",
    "数字政府建设",
    "工程建设项目审批制度改革",
    "政务数据共享",
    "“一件事一次办”",
    "政务服务标准化规范化便利化",
    "许可证照电子化",
    "登记证照统一管理",
    "移动政务服务",
    "“互联网+监管”",
    "基层政务服务体系建设",
    "12345政务服务便民热线",
    "行政审批制度改革",
    "数字化转型",
]
VERBS = ["进一步推进", "全面深化", "加快推进", "深入开展", "持续优化", "规范", "全面推行", "做好"]
DOCTYPES = ["通知", "实施意见", "若干措施", "工作方案", "实施方案", "指导意见", "管理办法", "行动计划"]
# A province's bodies (江苏省 + …) and a city's (苏州市 + …).
BODIES = [
    "人民政府",
    "人民政府办公厅",
    "政务服务管理局",
    "大数据局",
    "市场监督管理局",
    "发展改革委",
    "人力资源社会保障厅",
]
CITY_BODIES = ["人民政府", "人民政府办公厅", "政务服务管理局", "大数据局", "市场监督管理局", "行政审批局"]
NATIONAL = ["国务院", "国务院办公厅", "中共中央办公厅 国务院办公厅"]
MINISTRIES = ["市场监管总局", "住房和城乡建设部办公厅", "国家发展改革委", "人力资源社会保障部", "公安部", "民政部"]
# The sample issue's places: (name in titles, the region tagged). 郑州高新区 has no GB/T 2260 code: 郑州市.
PLACES = [
    ("昆山", 320583),
    ("常州", 320400),
    ("靖江", 321282),
    ("海曙", 330203),
    ("郑州高新区", 410100),
    ("济南", 370100),
    ("商河", 370126),
    ("西宁", 630100),
    ("雄安", 133100),
    ("成都", 510100),
    ("长沙", 430100),
    ("深圳", 440300),
]
PRACTICE_HEADS = [
    "{place}政务服务“跨省通办”向基层延伸",
    "{place}上线“一网通办”移动端，{n}项事项掌上可办",
    "{place}推行电子证照“免证办”，减免材料{n}类",
    "{place}打造“智慧导服”平台，办事指南实时更新",
    "{place}首批{n}个事项实现“刷脸办”",
    "{place}推出“视频办”服务专区",
    "{place}深化“证照分离”改革，企业开办一日办结",
    "{place}建成“15分钟政务服务圈”",
]
SENTENCES = [
    "文件提出要深化全国基层政权建设和社区治理信息系统分级应用",
    "鼓励党政群机构采取网上核验、主动调查、告知承诺等方式，最大限度减少证明事项",
    "要依托省级政务服务平台建立电子证照的制作、签发和信息归集业务流程",
    "推动电子证照信息跨地区互联互通互认",
    "加快建设全程网办、集成联办、跨省通办、移动可办的数字服务平台",
    "推进照后减证和简化审批，实现更多市场主体准入即准营",
    "全面推广证明事项告知承诺制和涉企经营许可事项告知承诺制",
    "推出更多一件事、打包办服务，方便企业群众就近办",
    "实现政府履职核心业务数字化全覆盖",
    "建立健全一窗综合受理机制，推动分部门多窗式服务向跨部门一窗式服务转变",
    "政务服务事项全面实行目录清单管理，省一体化政务服务平台全面建成",
    "全面实现极简审批、免证可办、免申即享、有诉即办",
    "涉及一事联办主题事项的业务审批系统均应与省统一受理平台深度对接",
    "支持率先推行涉企行政审批一照通、一业一证改革",
    "依规有序开放部省级证照数据接口，推广在线身份认证、电子证照、电子签章应用",
    "深化拓展政务服务川渝通办，推动更多区域性特色事项通办",
    "构建市场主体注册登记一体化服务体系，实现登记信息共享和互通互认",
    "通过省数据共享交换平台向各级各部门提供统一证照服务",
    "提升一网覆盖能力，强化统一身份认证，健全统一用户体系",
    "推动全省移动政务服务应用一端集成、全省共用",
    "鼓励推行拿地即开工改革，打造一流工程建设项目审批、服务、监管系统",
    "将双随机、一公开监管作为认证监管的基本手段",
    "深入推进互联网+监管，及时发布风险预警",
    "企业可以通过审批事项一网汇集办理从立项到竣工验收的多个阶段事项",
    "选取高频事项延伸到为民服务中心就近办、一次办",
    "对群众等候时间进行智能感知、动态监测、实时提醒",
    "为企业群众提供办事咨询、网办辅导、业务受理全流程服务",
    "授权后即可自助查询获取名下相关证照信息，无需再出示身份证、营业执照",
    "建设标准化知识库体系，实现办事指南同步更新、实时调用",
    "实现人才公共服务事项一点存档、多点服务和掌上办",
    "持续优化营商环境，降低企业制度性交易成本",
    "深化放管服改革，推动政府职能转变",
    "推进许可证照和登记证照电子化，实现证照数据实时共享",
    "完善政务服务好差评制度，提升企业群众满意度",
    "加快数字政府建设，推进数据资源整合共享和开发利用",
    "推动政务服务事项跨省通办、省内通办",
    "全面推行证照分离改革全覆盖",
    "持续提升一网通办能力，实现业务办理一网流转",
    "推动高频事项掌上办、指尖办",
    "强化数据安全保障，构筑公共数据全生命周期安全防护体系",
]
START = datetime.date(2019, 1, 1)
DAYS = (datetime.date(2026, 10, 31) - START).days


class Generator:
    def __init__(self, seed, provinces, themes, localities=None):
        """``localities``: province code → the regions below it that practices and municipal policies name (its
        prefecture-level cities, a municipality's districts), in code order."""
        self.rng = random.Random(seed)
        self.provinces = provinces
        self.localities = localities or {}
        self.places = [(name, code) for name, code in PLACES if code // 10000 * 10000 in self.localities]
        weights = [WEIGHTS.get(region.short_name, 2.2) for region in provinces]
        self.cumulative = []
        total = 0.0
        for weight in weights:
            total += weight
            self.cumulative.append(total)
        # (id, keywords) once: Theme.matches splits its keywords again on every call
        self.themes = [(theme.pk, theme.keyword_list) for theme in themes]
        self.token_cache = {}

    def _tokens(self, text):
        found = self.token_cache.get(text)
        if found is None:
            found = self.token_cache[text] = frozenset(index_tokens(text))
        return found

    def province(self):
        return self.rng.choices(self.provinces, cum_weights=self.cumulative)[0]

    def locality(self, province):
        """A city (or a municipality's district) of ``province``: (the region, [its code, the province's])."""
        below = self.localities.get(province.code)
        if not below:
            return province, [province.code]
        region = self.rng.choice(below)
        return region, [region.code, province.code]

    def practice_place(self, province):
        """One time in four one of the sample's own places, else a city of ``province``."""
        if self.places and self.rng.random() < 0.25:
            name, code = self.rng.choice(self.places)
            return name, [code, code // 10000 * 10000]
        region, regions = self.locality(province)
        return region.short_name, regions

    def entry(self):
        rng = self.rng
        roll = rng.random()
        kind = (
            Kind.POLICY
            if roll < 0.62
            else Kind.PRACTICE
            if roll < 0.95
            else Kind.ANALYSIS
            if roll < 0.98
            else Kind.BRIEFING
        )
        province = self.province()
        regions = [province.code]
        place = province.short_name
        topic = rng.choice(TOPICS)
        if kind == Kind.POLICY:
            level_roll = rng.random()
            if level_roll < 0.06:
                level, issuer, regions = Level.NATIONAL, rng.choice(NATIONAL), []
            elif level_roll < 0.14:
                level, issuer, regions = Level.MINISTRY, rng.choice(MINISTRIES), []
            elif level_roll < 0.8:
                level, issuer = Level.PROVINCIAL, province.name + rng.choice(BODIES)
            else:
                city, regions = self.locality(province)
                level, issuer = Level.MUNICIPAL, city.name + rng.choice(CITY_BODIES)
            title = f"关于{rng.choice(VERBS)}{topic}的{rng.choice(DOCTYPES)}"
        elif kind == Kind.PRACTICE:
            level, issuer = "", ""
            name, regions = self.practice_place(province)
            title = rng.choice(PRACTICE_HEADS).format(place=name, n=rng.randint(5, 300))
        elif kind == Kind.ANALYSIS:
            level, issuer = Level.PROVINCIAL, ""
            title = f"解读《{place}关于{rng.choice(VERBS)}{topic}的{rng.choice(DOCTYPES)}》"
        else:
            level, issuer, regions = Level.NATIONAL, "国务院新闻办公室", []
            title = f"国新办举行{topic}国务院政策例行吹风会"
        sentences = rng.sample(SENTENCES, rng.randint(3, 5))
        if kind == Kind.PRACTICE:
            opening, lead = "", title
        else:
            opening = f"{issuer or place}{'印发' if kind == Kind.POLICY else '推出'}"
            lead = f"{opening}《{title}》"
        summary = "。".join([lead, *sentences]) + "。"
        text = entry_search_text(title, issuer, summary)
        themes = [pk for pk, keywords in self.themes if any(keyword in text for keyword in keywords)]
        published_on = START + datetime.timedelta(days=rng.randrange(DAYS))
        status = Status.READY if rng.random() < 0.97 else Status.DRAFT
        return {
            "kind": kind,
            "title": title[:300],
            "issuer": issuer,
            "level": level,
            "published_on": published_on,
            "summary": summary,
            "status": status,
            "regions": regions,
            "themes": themes,
            # The text's tokens, as the token sets of its parts. 《 and 》 split words, so the lead's tokens are
            # its opening's and its title's: cached per opening and per title, not per (rarely repeated) lead.
            "tokens": (
                self._tokens(title),
                self._tokens(issuer),
                self._tokens(opening),
                *(self._tokens(sentence) for sentence in sentences),
            ),
        }


def localities():
    """Province code → its prefecture-level cities, or a municipality's districts (北京 has no cities)."""
    below = {}
    for region in Region.objects.exclude(parent=None).order_by("code"):
        if region.kind in (RegionKind.CITY, RegionKind.COUNTY) and region.parent_id == region.province_code:
            below.setdefault(region.province_code, {}).setdefault(region.kind, []).append(region)
    return {code: kinds.get(RegionKind.CITY) or kinds.get(RegionKind.COUNTY, []) for code, kinds in below.items()}


class Tokens(Mapping):
    """Entry id → the set of tokens ``entries_reindex`` indexes it under. Each entry keeps the shared token
    sets of its parts, united when asked: a million entries' own sets would take gigabytes."""

    def __init__(self):
        self.parts = {}

    def __getitem__(self, entry_id):
        return frozenset().union(*self.parts[entry_id])

    def __iter__(self):
        return iter(self.parts)

    def __len__(self):
        return len(self.parts)


ENTRY_COLUMNS = (
    "id",
    "kind",
    "title",
    "issuer",
    "action",
    "doc_number",
    "level",
    "published_on",
    "source_url",
    "summary",
    "body",
    "status",
    "ready_at",
    "created_at",
    "updated_at",
)
# Loaded in two steps, each with its indexes deferred on a large load: the entries and their tags, then the
# library's index tables (every model that carries an entry's CatalogueFacts, whatever entries_reindex fills
# today) and its counts table.
ENTRY_MODELS = (Entry, Entry.regions.through, Entry.themes.through)
INDEX_MODELS = (*(model for model in apps.get_models() if issubclass(model, CatalogueFacts)), CatalogueCount)


class Command(BaseCommand):
    help = "Create deterministic synthetic entries (and subscribers) at scale, for demos and benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--entries", type=int, default=1000)
        parser.add_argument("--subscribers", type=int, default=0)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--batch", type=int, default=10000)
        parser.add_argument("--dry-run", action="store_true", help="generate, write nothing, say how many")

    def handle(self, *args, entries, subscribers, seed, batch, dry_run, **options):
        if entries < 0 or subscribers < 0 or batch < 1:
            raise CommandError("--entries and --subscribers must be 0 or more, --batch 1 or more")
        provinces = list(Region.objects.filter(parent=None).order_by("code"))
        themes = list(Theme.objects.all())
        if not provinces:
            raise CommandError("no regions: run migrate first")
        generator = Generator(seed, provinces, themes, localities())
        self.verbose = options["verbosity"] > 1
        self.started = time.monotonic()
        if dry_run:
            for made in range(1, entries + 1):
                generator.entry()
                if made % batch == 0 or made == entries:
                    self._progress(made, entries)
        elif entries:
            self._load(generator, entries, batch)
        self._subscribers(subscribers, seed, dry_run)

    def _load(self, generator, count, batch):
        """Everything in one transaction: an interrupted load leaves the catalogue as it was, indexes and all."""
        postgresql = connection.vendor == "postgresql"
        with transaction.atomic():
            first_id = (Entry.objects.aggregate(top=Max("id"))["top"] or 0) + 1
            # Rebuilding an index reads the whole table: worth it once the load is as large as what is there.
            defer = postgresql and count >= Entry.objects.count()
            tokens = Tokens()
            with self._indexes_deferred(defer, ENTRY_MODELS, "entries and tags"):
                made = 0
                while made < count:
                    rows = [generator.entry() for _ in range(min(batch, count - made))]
                    self._write(rows, first_id + made, tokens)
                    made += len(rows)
                    self._progress(made, count)
            if postgresql:  # statistics for the queries that read the rows back to index them
                started = time.monotonic()
                with connection.cursor() as cursor:
                    for model in ENTRY_MODELS:
                        cursor.execute(f"ANALYZE {model._meta.db_table}")
                self._timed("entries and tags analysed", started)
            with self._indexes_deferred(defer, INDEX_MODELS, "index tables"):
                started = time.monotonic()
                for start in range(first_id, first_id + count, batch):
                    ids = range(start, min(start + batch, first_id + count))
                    entries_reindex(entry_ids=ids, tokens=tokens, fresh=True, counts=False)
                self._timed("index tables filled", started)
                started = time.monotonic()
                catalogue_counts_refresh()  # the facet counts table, once for the whole load
                self._timed("counts table rebuilt", started)
            if postgresql:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT setval(pg_get_serial_sequence('policies_entry', 'id'), %s)", [first_id + count - 1]
                    )
        if postgresql:  # (the entries and tags were analysed above)
            started = time.monotonic()
            # VACUUM sets the visibility map too, so counts on the index tables are index-only scans
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                for model in INDEX_MODELS:
                    cursor.execute(f"{command} {model._meta.db_table}")
            self._timed("index tables vacuumed and analysed", started)
        self.stdout.write(f"{count} entries in {time.monotonic() - self.started:.0f} s")

    @contextlib.contextmanager
    def _indexes_deferred(self, defer, models, what):
        if not defer:
            yield
            return
        with indexes_deferred(*models) as deferred:
            yield
        self._timed(f"{what}: {len(deferred.drop)} indexes and constraints rebuilt", None, deferred.rebuild_seconds)

    def _progress(self, made, total):
        if self.verbose or made == total:
            rate = made / max(time.monotonic() - self.started, 1e-6)
            self.stdout.write(f"{made} entries generated ({rate:.0f}/s)")

    def _timed(self, what, started, seconds=None):
        if self.verbose:
            seconds = time.monotonic() - started if seconds is None else seconds
            self.stdout.write(f"{what} in {seconds:.1f} s ({time.monotonic() - self.started:.0f} s so far)")

    def _subscribers(self, count, seed, dry_run):
        if not count:
            return
        if dry_run:
            self.stdout.write(f"would create {count} subscribers")
            return
        created = seed_subscribers(count=count, seed=seed)
        self.stdout.write(f"{created} subscribers")

    def _write(self, rows, first_id, tokens):
        now = datetime.datetime.now(datetime.UTC)
        ids = range(first_id, first_id + len(rows))
        region_links = [(pk, code) for pk, row in zip(ids, rows, strict=True) for code in row["regions"]]
        theme_links = [(pk, theme) for pk, row in zip(ids, rows, strict=True) for theme in row["themes"]]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                raw = cursor.cursor
                with raw.copy(f"COPY policies_entry ({', '.join(ENTRY_COLUMNS)}) FROM STDIN") as copy:
                    for pk, row in zip(ids, rows, strict=True):
                        copy.write_row(
                            (
                                pk,
                                row["kind"],
                                row["title"],
                                row["issuer"],
                                "",
                                "",
                                row["level"],
                                row["published_on"],
                                "",
                                row["summary"],
                                "",
                                row["status"],
                                now if row["status"] == Status.READY else None,  # ready_at, as Entry.save sets it
                                now,
                                now,
                            )
                        )
                with raw.copy("COPY policies_entry_regions (entry_id, region_id) FROM STDIN") as copy:
                    for link in region_links:
                        copy.write_row(link)
                with raw.copy("COPY policies_entry_themes (entry_id, theme_id) FROM STDIN") as copy:
                    for link in theme_links:
                        copy.write_row(link)
        else:
            Entry.objects.bulk_create(
                Entry(
                    id=pk,
                    kind=row["kind"],
                    title=row["title"],
                    issuer=row["issuer"],
                    level=row["level"],
                    published_on=row["published_on"],
                    summary=row["summary"],
                    status=row["status"],
                    ready_at=now if row["status"] == Status.READY else None,
                )
                for pk, row in zip(ids, rows, strict=True)
            )
            Entry.regions.through.objects.bulk_create(
                Entry.regions.through(entry_id=pk, region_id=code) for pk, code in region_links
            )
            Entry.themes.through.objects.bulk_create(
                Entry.themes.through(entry_id=pk, theme_id=theme) for pk, theme in theme_links
            )
        for pk, row in zip(ids, rows, strict=True):
            if row["status"] == Status.READY:  # only ready entries are indexed
                tokens.parts[pk] = row["tokens"]
