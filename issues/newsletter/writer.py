"""Write an issue (in the JSON shape of ``issues.selectors.issue_as_data``) in the newsletter's own text
format, so that importing the text again gives the same JSON. A stored link the catalogue would not accept now
(``policies.safety``) is written as no link."""

from issues.newsletter.format import INTRO_TITLE, SOURCE_LABEL
from policies.safety import safe_url


def _tag(entry, region_names, implied_regions=()):
    regions = [] if list(entry["regions"]) == list(implied_regions) else entry["regions"]
    names = [region_names[code] for code in regions] + list(entry["partners"])
    return f"【{'&'.join(names)}】" if names else ""


def _heading(entry, region_names, entries_by_number):
    if entry["kind"] == "policy":
        link = f"[{SOURCE_LABEL}]({safe_url(entry['source_url']) or '#'})"
        doc_number = f"（{entry['doc_number']}）" if entry.get("doc_number") else ""
        tag = _tag(entry, region_names)
        return f"{tag}{entry['issuer']}{entry.get('action') or ''}《{entry['title']}》{doc_number}{link}"
    implied = ()
    if entry["kind"] == "analysis" and entry.get("interprets") in entries_by_number:
        implied = entries_by_number[entry["interprets"]]["regions"]
    link = f"[原文]({safe_url(entry['source_url'])})" if safe_url(entry["source_url"]) else ""
    return f"{_tag(entry, region_names, implied)}{entry['title']}{link}"


def _body_paragraph(paragraph):
    return paragraph.lstrip("#").strip() if paragraph.startswith("#") else paragraph


def render_text(data, region_names):
    """``region_names`` maps a GB/T 2260 code (as in the JSON) to the short name used in tags."""
    entries_by_number = {e["number"]: e for s in data["sections"] for e in s["entries"]}
    blocks = [
        data.get("publication") or "数字政府动态",
        data["series"],
        f"{data['year']}年",
        f"{data['month']:02d}",
        f"第{data['number']:02d}期",
    ]
    if data.get("publisher"):
        blocks.append(data["publisher"])
    if data["intro"]:
        blocks += [INTRO_TITLE, data["intro"]]
    for section in data["sections"]:
        blocks.append(section["title"])
        for entry in section["entries"]:
            blocks.append(f"{entry['number']}、{_heading(entry, region_names, entries_by_number)}")
            if entry["summary"]:
                blocks.append(entry["summary"])
            if entry.get("body"):
                blocks += [_body_paragraph(p) for p in entry["body"].split("\n\n")]
    return "\n\n".join(blocks) + "\n"
