"""Reading a government page's text: 文号, dates, issuer, level, title parts, summary draft, canonical URLs.

Pure functions without the database, so each rule is tested on strings alone.
"""

import datetime
import re
import unicodedata
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from policies.models import Level

# --- 文号 -----------------------------------------------------------------------------------------------

# 浙政发〔2022〕20号, 国办发[2022]14号, 苏政办发（2021）3号, 闽政〔2022〕第5号, 浙政发﹝2022﹞20号: an issuer's
# abbreviation, the year in brackets of any of the forms sites use, a serial number and 号. Full-width digits
# (〔２０２２〕２０号) are read as ASCII first (``ascii_digits``).
_BRACKETS_OPEN = "〔［[（(【﹝〖"
_BRACKETS_CLOSE = "〕］]）)】﹞〗"
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def ascii_digits(text):
    """``text`` with full-width digits as ASCII ones (the same length: positions in it stay valid)."""
    return (text or "").translate(_FULL_WIDTH_DIGITS)


DOC_NUMBER = re.compile(
    rf"(?P<prefix>[\u4e00-\u9fff]{{1,12}})\s*[{re.escape(_BRACKETS_OPEN)}]\s*(?P<year>(?:19|20)\d\d)\s*"
    rf"[{re.escape(_BRACKETS_CLOSE)}]\s*第?\s*(?P<serial>\d{{1,5}})\s*号"
)
# Words that come before a 文号 in a sentence and are never part of its prefix ("现将浙政发〔2022〕20号 …").
_PREFIX_NOISE = re.compile(r"^.*(?:文号|字号|编号|根据|按照|依据|印发|转发|关于|的|和|及|与|将|现|为|见|经)")


def parse_doc_number(text):
    """The first 文号 in ``text`` in its standard form (浙政发〔2022〕20号), or ``""``."""
    match = DOC_NUMBER.search(ascii_digits(text))
    if not match:
        return ""
    prefix = _PREFIX_NOISE.sub("", match["prefix"]) or match["prefix"]
    return f"{prefix[-8:]}〔{match['year']}〕{int(match['serial'])}号"


def doc_number_key(doc_number):
    """The form two 文号 are compared in: brackets, spaces, a 第 and leading zeros do not count."""
    if not doc_number:
        return ""
    found = parse_doc_number(doc_number)
    return found or re.sub(r"\s+", "", doc_number)


# --- dates -----------------------------------------------------------------------------------------------

_DATE = re.compile(r"((?:19|20)\d\d)\s*(?:[-/.年])\s*(\d{1,2})\s*(?:[-/.月])\s*(\d{1,2})\s*日?")
# 二〇二二年八月五日, as the date under a notice's signature is often written (〇, ○ or 零 for zero).
_CN_DIGITS = {**dict.fromkeys("〇○零Ｏ", 0), **{c: n for n, c in enumerate("一二三四五六七八九", 1)}}
_CN_DATE = re.compile(
    r"([〇○零Ｏ一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,3})\s*日"
)
_ISSUED_LABEL = re.compile(r"(?:成文日期|印发日期|发文日期)\s*[:：]?\s*")


def _cn_number(text):
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 三十一 → 31."""
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)


def _dates(text):
    """Every date in ``text`` (Arabic or Chinese numerals), with where it starts, in the order found."""
    text = ascii_digits(text)
    for match in _DATE.finditer(text):
        yield match.start(), int(match[1]), int(match[2]), int(match[3])
    for match in _CN_DATE.finditer(text):
        year = int("".join(str(_CN_DIGITS[c]) for c in match[1]))
        yield match.start(), year, _cn_number(match[2]), _cn_number(match[3])


def parse_date(text):
    """The first date in ``text`` (2022-05-10, 2022/5/10, 2022.05.10, 2022年5月10日, full-width digits,
    二〇二二年五月十日), or ``None``."""
    for _start, year, month, day in sorted(_dates(text or "")):
        try:
            return datetime.date(year, month, day)
        except (TypeError, ValueError):
            continue
    return None


def _is_date_line(line):
    line = ascii_digits(line)
    return bool(_DATE.fullmatch(line) or _CN_DATE.fullmatch(line))


def parse_issued_on(text):
    """The date a document was signed: after 成文日期, else the last date standing alone on a line (the date
    under the issuer's name at the end of a notice)."""
    text = text or ""
    label = _ISSUED_LABEL.search(text)
    if label:
        found = parse_date(text[label.end() : label.end() + 30])
        if found:
            return found
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line and _is_date_line(line):
            return parse_date(line)
    return None


# --- titles and issuers ----------------------------------------------------------------------------------

# A body that issues documents: the end of its name.
_ISSUER_END = (
    "人民政府",
    "办公厅",
    "办公室",
    "委员会",
    "国务院",
    "中共中央",
    "政府",
    "厅",
    "局",
    "部",
    "委",
    "院",
    "署",
    "中心",
    "总局",
)
_ISSUER_LABEL = re.compile(r"(?:发文机关|发布机构|发文单位|发布单位|来源)\s*[:：]\s*([^\s|｜/，,]{2,40})")
_FORWARD = re.compile(r"^关于(?P<action>印发|发布|转发|公布)《(?P<title>[^》]+)》的(?:通知|公告|通告|函)$")


def split_title(title):
    """(issuer, action, title) from a document title as sites give it.

    ``浙江省人民政府关于印发《浙江省数字政府建设规划》的通知`` → (浙江省人民政府, 印发, 浙江省数字政府建设规划), as
    the catalogue files a policy (its title without 《》); ``关于深化数字政府建设的实施意见`` stays as it is."""
    title = clean_space(title).strip("《》")
    issuer = ""
    head, sep, rest = title.partition("关于")
    if sep and head and head.endswith(_ISSUER_END):
        issuer, title = head.strip(), sep + rest
    forwarded = _FORWARD.match(title)
    if forwarded:
        return issuer, forwarded["action"], forwarded["title"]
    return issuer, "", title


def find_issuer(text):
    """An issuing body named in a page's text (发文机关：…, 发布机构：…), or ``""``."""
    found = _ISSUER_LABEL.search(text or "")
    if found and found[1].endswith(_ISSUER_END):
        return found[1]
    return ""


_NATIONAL = re.compile(r"^(?:国务院|中共中央|全国人民代表大会|全国人大)")
_MUNICIPALITY = re.compile(r"^(?:北京|上海|天津|重庆)市")
_MINISTRY = re.compile(r"^(?:国家|中华人民共和国|[\u4e00-\u9fff]{1,8}(?:部|总局|署|委员会|委))")


def suggest_level(issuer, default=""):
    """The level an issuer's name says (国务院 national, 国家数据局 or 工业和信息化部 ministry, 浙江省… or 北京市…
    provincial, 杭州市… municipal, …县/区 county), else ``default`` (the source's level)."""
    issuer = issuer or ""
    if not issuer:
        return default
    if _NATIONAL.match(issuer):
        return Level.NATIONAL
    municipality = _MUNICIPALITY.match(issuer)
    if municipality:
        below = issuer[municipality.end() :]
        return Level.COUNTY if re.match(r"^[\u4e00-\u9fff]{1,5}(?:区|县)(?!委)", below) else Level.PROVINCIAL
    province = re.match(r"^[\u4e00-\u9fff]{2,8}?(?:省|自治区)", issuer)
    if province:
        below = issuer[province.end() :]
        if re.match(r"^(?!城市)[\u4e00-\u9fff]{2,4}(?:市|州|盟)", below):
            return Level.MUNICIPAL
        return Level.PROVINCIAL
    if re.match(r"^[\u4e00-\u9fff]{2,8}(?:县|区)", issuer):
        return Level.COUNTY
    if re.match(r"^(?!城市)[\u4e00-\u9fff]{2,4}市", issuer):
        return Level.MUNICIPAL
    if _MINISTRY.match(issuer):
        return Level.MINISTRY
    return default


# --- text ------------------------------------------------------------------------------------------------


def clean_space(text):
    """One line: NFC, no control characters, runs of blanks (ideographic ones too) as one space."""
    text = unicodedata.normalize("NFC", text or "")
    text = re.sub(r"[\x00-\x1f\x7f\u200b\ufeff]", " ", text)
    return re.sub(r"[\s\u3000]+", " ", text).strip()


# A page's byline and index fields: 发布日期：… 来源：…, 索引号：…
_METADATA = re.compile(
    r"(?:发布日期|发布时间|成文日期|印发日期|来源|信息来源|浏览次数|访问量|索引号|主题分类|发文机关|发布机构|字号|文号)\s*[:：]"
)
_SENTENCE_END = re.compile(r"(?<=[。！？!?])")


def summary_draft(text, *, title="", limit=160, sentences=3):
    """The first sentences of a page's main text: what a researcher edits into the entry's summary.

    Lines that are not prose are skipped: the title again, a 文号 or a date alone, an address line ending
    in a colon (各市、县人民政府：)."""
    title_key = re.sub(r"\W", "", title)
    kept = []
    for line in (text or "").splitlines():
        line = clean_space(line)
        if not line or len(line) < 8 or line.endswith(("：", ":")):
            continue
        if re.sub(r"\W", "", line) in (title_key, ""):
            continue
        if DOC_NUMBER.fullmatch(ascii_digits(line)) or _is_date_line(line) or _METADATA.search(line):
            continue
        if len(line) < 30 and not re.search(r"[，。；！？,;!?]", line):
            continue  # a heading, a signature, a byline
        kept.append(line)
        if sum(len(k) for k in kept) >= limit:
            break
    found = []
    for part in _SENTENCE_END.split("".join(kept)):
        if part.strip():
            found.append(part.strip())
        if len(found) >= sentences or sum(len(f) for f in found) >= limit:
            break
    return "".join(found)


# --- URLs ------------------------------------------------------------------------------------------------

_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_TRACKING = re.compile(r"^(?:utm_\w+|spm|from|source|share|timestamp|_t|t)$", re.IGNORECASE)


def url_key(url):
    """The form two links to the same page are compared in: no scheme, no www., no default port, no fragment,
    no tracking parameters, sorted query, no trailing slash or index page, one percent-encoding of the path.
    ``http://www.gov.cn/a/index.html`` and ``https://gov.cn/a/`` are one page."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = quote(unquote(re.sub(r"/{2,}", "/", parts.path or "/")), safe=_PATH_SAFE)  # %E6%94%BF and 政 alike
    path = re.sub(r"/(?:index|default)\.(?:s?html?|jhtml|php|jsp|aspx?)$", "/", path, flags=re.IGNORECASE)
    if len(path) > 1:
        path = path.rstrip("/")
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    )
    return urlunsplit(("", host, path, query, "")).removeprefix("//")


def canonical_url(url):
    """``url`` as stored: without its fragment, the host in lower case."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.lower()
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
