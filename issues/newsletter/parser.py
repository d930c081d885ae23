"""Parse a newsletter text file (like ``samples/dgd-2022-08-zhengwu.txt``) into plain data.

The parser touches no database: it is given the names of the known regions and partners, and either
returns a ``ParsedIssue`` or raises ``NewsletterError`` naming the line at fault. The service in
``issues.services`` turns a ``ParsedIssue`` into rows.

The format, as the institute writes it:

* a cover (publication, ``政务服务分册``, ``2022年``, ``08``, ``第04期``, publisher, address);
* an optional table of contents (``目 录``) whose lines end in page numbers; it is skipped, and the
  body's wording wins where the two differ;
* ``本期导读``, the introduction;
* sections ``一、要闻速递`` … ``五、热点前瞻``, each holding entries ``1.1、…``;
* an entry heading ``2.8、【四川&重庆】ISSUER印发《TITLE》[政策原文](URL)`` followed by paragraphs with
  ``**bold**`` key phrases; a paragraph cut by a page break is joined again;
* the analysis (``新点解读``) keeps sub-headings of its own (``一、起草背景``, ``1. 总体要求``).

A link (``[…](URL)``, in a heading or anywhere else) must be an absolute http(s) URL with a host
(``policies.safety.is_safe_url``, the rule of ``Entry.source_url``); ``#`` or nothing means no link. Any
other (``javascript:``, ``data:``, relative, quoted …) fails the file with ``line N: unsafe link``.
"""

import re
from dataclasses import dataclass, field

from issues.newsletter.format import (
    DOC_NUMBER,
    INTRO_TITLE,
    POLICY_VERBS,
    SECTION_BY_TITLE,
    SECTION_KINDS,
    SOURCE_LABEL,
    TAG_SEPARATORS,
    from_chinese_numeral,
    normalise_doc_number,
)
from policies.safety import is_safe_url

SPACE = r"[\s\u3000]"
NUMERAL = r"(?:十[一二三四五六七八九]?|[一二三四五六七八九])"

TOC_START = re.compile(rf"^目{SPACE}*录$")
PAGE_NUMBER = re.compile(r"(?:\t|\s{2,}|\.{2,}|…+)\s*\d{0,4}$|\t\s*$")
SECTION_HEADING = re.compile(rf"^({NUMERAL}){SPACE}*、{SPACE}*(\S.*?)$")
ENTRY_HEADING = re.compile(rf"^(\d{{1,2}}){SPACE}*[.．]{SPACE}*(\d{{1,3}}){SPACE}*[、.．]{SPACE}*(.*)$")
SUBHEADING_2 = re.compile(rf"^{NUMERAL}{SPACE}*、{SPACE}*[^。；！？]{{1,40}}$")
SUBHEADING_3 = re.compile(rf"^\d{{1,2}}{SPACE}*[.．]{SPACE}*[^\d。；！？][^。；！？]{{0,50}}$")
TAG = re.compile(rf"^【([^】]*)】{SPACE}*")
# The URL may hold one level of parentheses, so ``[政策原文](javascript:alert(1))`` is read whole.
TRAILING_LINK = re.compile(rf"{SPACE}*\[([^\]]*)\]\(((?:[^()]|\([^()]*\))*)\){SPACE}*$")
LINK_START = re.compile(r"\]\s*\(")  # what starts the URL of a Markdown link, wherever it stands
UNSAFE_LINK = "unsafe link (only absolute http:// or https:// links)"
YEAR = re.compile(rf"^(\d{{4}}){SPACE}*年(?:{SPACE}*(\d{{1,2}}){SPACE}*月?)?$")
MONTH = re.compile(rf"^(\d{{1,2}}){SPACE}*月?$")
NUMBER = re.compile(rf"^第{SPACE}*(\d{{1,4}}){SPACE}*期$")
SERIES = re.compile(r"^\S{1,20}分册$")
TERMINAL = set("。！？；：…”’」』）)!?;:")
NATIONAL_ISSUER = re.compile(r"^(中共中央|国务院|全国人大|全国人民代表大会|中华人民共和国主席|国家主席)")
NATIONAL_BRIEFING = re.compile(r"^(国新办|国务院|国家|中共中央)")


class NewsletterError(ValueError):
    def __init__(self, line, reason):
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass
class ParsedEntry:
    line: int
    section: str
    number: tuple
    kind: str
    title: str = ""
    issuer: str = ""
    action: str = ""
    doc_number: str = ""
    level: str = ""
    regions: list = field(default_factory=list)  # region codes, in tag order
    partners: list = field(default_factory=list)  # partner names, in tag order
    source_url: str | None = None
    paragraphs: list = field(default_factory=list)  # [line, text, is_heading]
    summary: str = ""
    body: str = ""
    interprets: tuple | None = None  # the number of the policy an analysis interprets

    @property
    def label(self):
        return f"{self.number[0]}.{self.number[1]}"


@dataclass
class ParsedSection:
    key: str
    ordinal: int
    line: int
    entries: list = field(default_factory=list)


@dataclass
class ParsedIssue:
    series: str
    year: int
    month: int
    number: int
    intro: str
    sections: list

    @property
    def entries(self):
        return [entry for section in self.sections for entry in section.entries]


@dataclass
class Vocabulary:
    """Names the parser may meet in a tag: region names (full or short) → code, and partner names."""

    regions: dict
    partners: set
    # Names looked for in running text (a policy's issuer, an analysis' quoted titles); None: ``regions``. Kept
    # apart because a county's short name is often a plain word there (资源 in 人力资源).
    text_regions: dict | None = None

    def region_named(self, name):
        return self.regions.get(name)


def decode(data):
    """Bytes → text, refusing what is not a UTF-8 text file."""
    if not data.strip():
        raise NewsletterError(1, "the file is empty")
    if b"\x00" in data:
        raise NewsletterError(data[: data.index(b"\x00")].count(b"\n") + 1, "this is not a text file (NUL byte)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise NewsletterError(line, "the file is not UTF-8 text") from None
    if not text.strip("\ufeff \t\r\n\u3000"):
        raise NewsletterError(1, "the file is empty")
    return text


def clean(line):
    return line.replace("\u00a0", " ").strip(" \t\u3000\ufeff")


def is_terminated(text):
    text = text.rstrip()
    while text.endswith("**"):
        text = text[:-2].rstrip()
    return not text or text[-1] in TERMINAL


class _Parser:
    def __init__(self, vocabulary):
        self.vocabulary = vocabulary
        self.header = {}
        self.header_line = None
        self.intro = []  # [line, text, is_heading]
        self.sections = []
        self.entries = {}
        self.container = None  # the list paragraphs go to; None in the cover
        self.in_toc = False
        self.started = False  # past the cover and the table of contents

    # -- lines -------------------------------------------------------------------------------
    def feed(self, number, raw):
        line = clean(raw)
        if not line:
            return
        self._check_links(number, line)
        if TOC_START.match(line):
            self.in_toc = True
            return
        if self.in_toc or not self.started:
            if self._ends_toc(line):
                self.in_toc = False
            elif self.in_toc or PAGE_NUMBER.search(raw.rstrip("\r\n")):
                return  # a line of the table of contents
            else:
                self._cover(number, line)
                return
        self._body(number, line)

    def _ends_toc(self, line):
        if line == INTRO_TITLE:
            return True
        match = SECTION_HEADING.match(line)
        return bool(match and self._section_key(match.group(2)))

    @staticmethod
    def _section_key(title):
        return SECTION_BY_TITLE.get(re.sub(rf"{SPACE}+", "", title))

    def _cover(self, number, line):
        if ENTRY_HEADING.match(line):
            raise NewsletterError(number, f"entry «{line[:40]}» appears before any section heading")
        if match := YEAR.match(line):
            self.header.setdefault("year", (int(match.group(1)), number))
            if match.group(2):
                self.header.setdefault("month", (int(match.group(2)), number))
        elif (match := MONTH.match(line)) and "year" in self.header:
            self.header.setdefault("month", (int(match.group(1)), number))
        elif match := NUMBER.match(line):
            self.header.setdefault("number", (int(match.group(1)), number))
        elif SERIES.match(line):
            self.header.setdefault("series", (line, number))

    def _body(self, number, line):
        self.started = True
        if line == INTRO_TITLE:
            self.container = self.intro
            return
        if match := SECTION_HEADING.match(line):
            key = self._section_key(match.group(2))
            if key:
                self._open_section(number, from_chinese_numeral(match.group(1)), key)
                return
            if not self._in_analysis() and not is_terminated(line) and len(line) <= 20:
                raise NewsletterError(number, f"unknown section «{line}»")
        if match := ENTRY_HEADING.match(line):
            self._open_entry(number, (int(match.group(1)), int(match.group(2))), match.group(3))
            return
        if self.container is None:
            if self.sections or self.intro:
                raise NewsletterError(number, "text outside any entry")
            return  # more of the cover
        heading = self._in_analysis() and bool(SUBHEADING_2.match(line) or SUBHEADING_3.match(line))
        previous = self.container[-1] if self.container else None
        if previous and not heading and not previous[2] and not is_terminated(previous[1]):
            previous[1] += line  # a paragraph cut by a page break
        else:
            self.container.append([number, line, heading])

    @staticmethod
    def _check_links(number, line):
        """Every Markdown link on a line, cover and contents included: what follows ``](`` up to its closing
        parenthesis (nesting allowed) is a safe link, ``#`` or nothing; anything else refuses the file."""
        for match in LINK_START.finditer(line):
            rest = line[match.end() :]
            depth, end = 0, None
            for index, char in enumerate(rest):
                if char == "(":
                    depth += 1
                elif char == ")":
                    if depth == 0:
                        end = index
                        break
                    depth -= 1
            url = (rest if end is None else rest[:end]).strip()
            if url not in ("", "#") and not is_safe_url(url):
                raise NewsletterError(number, UNSAFE_LINK)

    def _in_analysis(self):
        return bool(self.sections) and self.sections[-1].key == "analysis" and bool(self.sections[-1].entries)

    def _open_section(self, number, ordinal, key):
        for section in self.sections:
            if section.key == key:
                raise NewsletterError(number, f"section «{key}» appears twice (first at line {section.line})")
        self.sections.append(ParsedSection(key=key, ordinal=ordinal, line=number))
        self.container = None

    def _open_entry(self, number, entry_number, rest):
        label = f"{entry_number[0]}.{entry_number[1]}"
        if not self.sections:
            raise NewsletterError(number, f"entry {label} appears before any section heading")
        section = self.sections[-1]
        if entry_number in self.entries:
            first = self.entries[entry_number].line
            raise NewsletterError(number, f"duplicate entry number {label} (first at line {first})")
        if entry_number[0] != section.ordinal:
            raise NewsletterError(
                number,
                f"entry {label} is numbered for section {entry_number[0]} but stands in section {section.ordinal}",
            )
        entry = ParsedEntry(line=number, section=section.key, number=entry_number, kind=SECTION_KINDS[section.key])
        self._heading(entry, rest)
        section.entries.append(entry)
        self.entries[entry_number] = entry
        self.container = entry.paragraphs

    # -- an entry's heading --------------------------------------------------------------------
    def _heading(self, entry, rest):
        if match := TAG.match(rest):
            self._tag(entry, match.group(1))
            rest = rest[match.end() :]
        if match := TRAILING_LINK.search(rest):
            url = match.group(2).strip()
            if url and url != "#" and not is_safe_url(url):  # _check_links saw it already; kept beside its use
                raise NewsletterError(entry.line, UNSAFE_LINK)
            entry.source_url = url if url and url != "#" else None
            rest = rest[: match.start()]
        rest = re.sub(rf"{SPACE}*{SOURCE_LABEL}$", "", rest).strip()
        if not rest:
            raise NewsletterError(entry.line, f"entry {entry.label} has no title")
        if entry.kind == "policy" and "《" in rest and "》" in rest:
            start, end = rest.index("《"), rest.rindex("》")
            prefix, entry.title, after = rest[:start].strip(), rest[start + 1 : end].strip(), rest[end + 1 :]
            verb = next((v for v in POLICY_VERBS if prefix.endswith(v)), "")
            entry.issuer = prefix[: len(prefix) - len(verb)].strip(" \u3000，,、")
            entry.action = verb
            if match := DOC_NUMBER.search(after):
                entry.doc_number = normalise_doc_number(match.group(0))
        else:
            entry.title = rest

    def _tag(self, entry, tag):
        for name in (part for part in TAG_SEPARATORS.split(tag.strip()) if part):
            code = self.vocabulary.region_named(name)
            if code is not None:
                if code not in entry.regions:
                    entry.regions.append(code)
            elif name in self.vocabulary.partners:
                entry.partners.append(name)
            else:
                raise NewsletterError(entry.line, f"unknown region or partner «{name}» in tag 【{tag}】")

    # -- the whole -----------------------------------------------------------------------------
    def result(self, text):
        header = self.header
        missing = [
            label
            for key, label in (
                ("year", "a year (2022年)"),
                ("month", "a month (08)"),
                ("number", "a running number (第04期)"),
                ("series", "a series name (…分册)"),
            )
            if key not in header
        ]
        if missing:
            raise NewsletterError(1, "the cover lacks " + ", ".join(missing))
        month, month_line = header["month"]
        if not 1 <= month <= 12:
            raise NewsletterError(month_line, f"month {month} is not between 1 and 12")
        if not self.entries:
            raise NewsletterError(1, "no entries found (an entry starts like «1.1、…» under «一、要闻速递»)")
        for entry in self.entries.values():
            self._finish(entry, text)
        return ParsedIssue(
            series=header["series"][0],
            year=header["year"][0],
            month=month,
            number=header["number"][0],
            intro="\n\n".join(text for _, text, _ in self.intro),
            sections=self.sections,
        )

    def _finish(self, entry, text):
        paragraphs = entry.paragraphs
        first_heading = next((i for i, p in enumerate(paragraphs) if p[2]), len(paragraphs))
        entry.summary = "\n\n".join(p[1] for p in paragraphs[:first_heading])
        entry.body = "\n\n".join(
            (("### " if SUBHEADING_3.match(p[1]) else "## ") + p[1]) if p[2] else p[1]
            for p in paragraphs[first_heading:]
        )
        if entry.kind == "policy":
            entry.level = self._policy_level(entry)
            if not entry.regions and entry.section == "policies":
                entry.regions = self._regions_named_in(entry.issuer)
            if not entry.doc_number:
                entry.doc_number = self._doc_number_quoted(entry.title, text)
        elif entry.kind == "briefing" and NATIONAL_BRIEFING.match(entry.title):
            entry.level = "national"
        elif entry.kind == "analysis":
            self._link_analysis(entry)

    @staticmethod
    def _policy_level(entry):
        if entry.section == "policies":
            return "provincial"
        issuers = re.split(rf"[{SPACE.strip('[]')}、，,]+", entry.issuer)
        return "national" if any(NATIONAL_ISSUER.match(name) for name in issuers if name) else "ministry"

    def _regions_named_in(self, text):
        codes = []
        names = self.vocabulary.regions if self.vocabulary.text_regions is None else self.vocabulary.text_regions
        for name, code in sorted(names.items(), key=lambda item: -len(item[0])):
            if name in text and code not in codes:
                codes.append(code)
        return codes

    @staticmethod
    def _doc_number_quoted(title, text):
        """A 文号 written right after the document's title anywhere in the issue: 《…》（浙政发〔2022〕20 号，…"""
        if len(title) < 6:
            return ""
        pattern = re.escape(f"《{title}》") + r"\s*[（(]\s*(" + DOC_NUMBER.pattern + ")"
        match = re.search(pattern, text)
        return normalise_doc_number(match.group(1)) if match else ""

    def _link_analysis(self, analysis):
        quoted = re.findall(r"《([^》]+)》", analysis.title)
        candidates = []
        for policy in (e for e in self.entries.values() if e.kind == "policy" and len(e.title) >= 4):
            for name in quoted:
                prefix = name[: len(name) - len(policy.title)]
                if name.endswith(policy.title) and (not prefix or prefix in policy.issuer or policy.issuer in prefix):
                    candidates.append(policy)
        if len(candidates) == 1:
            policy = candidates[0]
            analysis.interprets = policy.number
            if not analysis.regions:
                analysis.regions = list(policy.regions)
        if not analysis.regions:
            analysis.regions = self._regions_named_in("".join(quoted))


def parse(data, vocabulary):
    """Parse newsletter bytes; raise ``NewsletterError`` with the line at fault."""
    text = decode(data).replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    parser = _Parser(vocabulary)
    for number, raw in enumerate(text.split("\n"), start=1):
        parser.feed(number, raw)
    return parser.result(text)
