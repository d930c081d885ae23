"""Which regions a text names: the most specific GB/T 2260 divisions mentioned in an entry's title or summary.

``suggest_regions("【江苏】靖江政务服务…")`` → [靖江市 321282] (under 泰州市 321200, under 江苏省 320000). The
catalogue expands a region to every region above it (policies.indexing), so a city stands for its province
too: the suggestion never lists a province or a city beside a region inside it.

How a name is read:
- every region is known by its name (靖江市), its short name (靖江) and its aliases (郑州高新区 → 郑州市);
  the text is scanned left to right for the longest known name at each place (江苏省 before 江苏);
- a province or a prefecture-level city counts wherever its name appears, unless the short name is also an
  everyday word (安康, 大同, 平安 …): then only its full name or a named province above it counts;
- a county-level division (district, county, county-level city) counts when its full name or an alias
  appears, or when its short name appears together with a region above it (宁波海曙, 济南商河, 江苏…靖江):
  two-character short names are too often plain words (合作, 城关, 长安) to stand alone;
- a name several regions share (鼓楼, 朝阳区, 吉林) goes to the one under a region the text names, else to the
  higher-level one when exactly one is higher (吉林 → 吉林省), else to none.

The table is read once per ``Gazetteer``: build one and call ``suggest`` for many texts (an import), or call
``suggest_regions`` for one text.
"""

import time
from dataclasses import dataclass, field

from django.db.models.signals import post_delete, post_save

from policies.models import Region, RegionKind

# Short names that are also everyday words in policy prose: they name a region only with their full name or
# beside a region above them.
_EVERYDAY = """
安康 大同 长治 阿里 来宾 中山 朝阳 山南 海西 兴安 北海 白山
城关 城中 城区 郊区 矿区 东区 西区 南区 北区 中西区 平安 和平 长安 合作 新城 新华 新市 新兴 市中 永定 安定
太平 向阳 东山 青山 金山 宝山 白云 南山 龙华 河东 河西 长寿 永安 红旗 龙门 江南 江北 城东 城西 城北 城南 沙湾
清河 东方 大方 建设 文明 先锋 西湖 东湖 滨海 东海 南湖 鼓楼 江口 站前 中原 团结 光明 振兴 胜利 前进 东风 解放
龙江
"""
# Short names (and a few full names) that are also everyday words or landmarks in policy prose: alone they name
# nothing; beside a region above them only when that is the city right above (宁波…西湖 does not make 杭州西湖区).
EVERYDAY_WORDS = frozenset(_EVERYDAY.split())
_LEVEL = {RegionKind.PROVINCE: 0, RegionKind.CITY: 1, RegionKind.COUNTY: 2}


@dataclass
class _Place:
    code: int
    name: str
    short_name: str
    kind: str
    parent: int | None
    aliases: list = field(default_factory=list)

    @property
    def level(self):
        return _LEVEL.get(self.kind, 2)


@dataclass
class _Match:
    start: int
    term: str
    codes: list  # every region the term may name
    full: set  # of those, the ones for which the term is a full name or an alias


class Gazetteer:
    """The region table as an index of names; ``suggest(text)`` gives the most specific regions it names."""

    def __init__(self, places):
        self.places = {place.code: place for place in places}
        self.terms = {}  # term → {code: is_full_name}
        for place in places:
            self._add(place.name, place.code, True)
            for alias in place.aliases:
                self._add(alias, place.code, True)
            if len(place.short_name) >= 2:
                self._add(place.short_name, place.code, False)
        self.lengths = sorted({len(term) for term in self.terms}, reverse=True)

    def _add(self, term, code, full):
        codes = self.terms.setdefault(term, {})
        codes[code] = codes.get(code, False) or full

    @classmethod
    def load(cls):
        rows = Region.objects.values_list("code", "name", "short_name", "kind", "parent_id", "aliases")
        return cls(
            [
                _Place(code, name, short, kind, parent, [a for a in aliases.split("|") if a])
                for code, name, short, kind, parent, aliases in rows
            ]
        )

    # --- reading -----------------------------------------------------------------------------------------
    def ancestors(self, code):
        """The codes above ``code``, nearest first."""
        chain, place = [], self.places.get(code)
        while place is not None and place.parent is not None and place.parent not in chain:
            chain.append(place.parent)
            place = self.places.get(place.parent)
        return chain

    def _matches(self, text):
        """Longest known name at each place, left to right, not overlapping."""
        matches, i = [], 0
        while i < len(text):
            for length in self.lengths:
                term = text[i : i + length]
                if len(term) == length and term in self.terms:
                    codes = self.terms[term]
                    matches.append(_Match(i, term, list(codes), {c for c, full in codes.items() if full}))
                    i += length
                    break
            else:
                i += 1
        return matches

    def _stands_alone(self, code, match):
        """Whether the term names ``code`` without a region above it in the text."""
        if match.term in EVERYDAY_WORDS:
            return False
        return code in match.full or self.places[code].level < 2

    def suggest_codes(self, text, within=()):
        """Codes of the most specific regions ``text`` names, in the order the text names them. ``within``:
        codes of regions already known to apply (the entry's tags), read as if the text named them."""
        matches = self._matches(text or "")
        # Anchors: regions named for certain (code → the matches naming them, -1 for ``within``); a short name
        # counts under an anchor only when another name made it one (吉林 alone is the province, not 吉林市).
        anchors = {code: {-1} for code in within if code in self.places}
        for index, match in enumerate(matches):
            code = self._highest_alone(match)
            if code is not None:
                anchors.setdefault(code, set()).add(index)
        chosen = []
        for index, match in enumerate(matches):
            others = {code for code, sources in anchors.items() if sources - {index}}
            code = self._resolve(match, others)
            if code is not None and code not in chosen:
                chosen.append(code)
        chosen += [code for code in within if code in self.places and code not in chosen]
        above = {ancestor for code in chosen for ancestor in self.ancestors(code)}
        return [code for code in chosen if code not in above]

    def _highest_alone(self, match):
        """The one region the term names on its own, preferring a higher level (吉林 → 吉林省); None if unclear."""
        alone = [code for code in match.codes if self._stands_alone(code, match)]
        if not alone:
            return None
        top = min(self.places[code].level for code in alone)
        highest = [code for code in alone if self.places[code].level == top]
        return highest[0] if len(highest) == 1 else None

    def _resolve(self, match, anchors):
        if match.term in EVERYDAY_WORDS:
            under_anchor = [code for code in match.codes if self.places[code].parent in anchors]
        else:
            under_anchor = [code for code in match.codes if anchors.intersection(self.ancestors(code))]
        if under_anchor:
            # 长沙 under 湖南 is 长沙市, not its own 长沙县 (a county is called by its full name beside its city)
            under_anchor = [c for c in under_anchor if not set(self.ancestors(c)).intersection(under_anchor)]
            deepest = max(self.places[code].level for code in under_anchor)
            candidates = [code for code in under_anchor if self.places[code].level == deepest]
            return candidates[0] if len(candidates) == 1 else None
        return self._highest_alone(match)

    def suggest(self, text, within=()):
        codes = self.suggest_codes(text, within)
        regions = Region.objects.in_bulk(codes)
        return [regions[code] for code in codes if code in regions]


_CACHE_SECONDS = 300
_cache = {}


def cached_gazetteer():
    """The gazetteer this process read within the last five minutes (reading the table costs tens of
    milliseconds; an entry's admin page asks on every view). A region saved or deleted in this process drops it
    at once; another process's edit shows within five minutes, and a region gone since is never returned
    (``suggest`` reads the regions back by code)."""
    now = time.monotonic()
    if _cache.get("expires", 0) < now:
        _cache.update(gazetteer=Gazetteer.load(), expires=now + _CACHE_SECONDS)
    return _cache["gazetteer"]


def _forget(**kwargs):
    _cache.clear()


post_save.connect(_forget, sender=Region, dispatch_uid="gazetteer.region.saved")
post_delete.connect(_forget, sender=Region, dispatch_uid="gazetteer.region.deleted")


def suggest_regions(text: str, within=()) -> list[Region]:
    """The most specific regions named in ``text`` (see the module's docstring); ``within``: codes or regions the
    entry is tagged with already, read as context (江苏 + 靖江 → 靖江市). The entry's own tags come back only
    when nothing more specific inside them is named."""
    codes = [getattr(region, "code", region) for region in within]
    return cached_gazetteer().suggest(text, codes)
