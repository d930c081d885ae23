"""The sales library: thin views over ``library.filters.LibraryFilter`` and ``library.selectors``.

Anyone signed in who may view the catalogue (sales, researchers, chief editors) may use it; anonymous
visitors are sent to the login page. Bad input never fails the request: an invalid parameter is left out
and named in a message on the page."""

import datetime
import math
from dataclasses import replace
from functools import wraps
from urllib.parse import quote_plus

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from library import exports, selectors
from library.filters import LibraryFilter
from library.forms import SavedFilterForm, checkbox_list, issue_options
from library.maps import china_tile_map_svg
from library.markup import esc
from library.models import SavedFilter
from library.services import FILTER_PARAMETERS, filter_query, saved_filter_create, saved_filter_delete
from policies.indexing import catalogue_version
from policies.models import Kind, Level

VIEW_PERMISSION = "policies.view_entry"
# The page's own parameters besides the filter's (``LibraryFilter``): the page number and the keyset cursor.
PAGE_PARAMETERS = frozenset({"page", "after"})


class FilterQueries:
    """``services.filter_query`` for many variants of one request (each facet value's link): the request's
    values are encoded once, only the replaced parameter per call."""

    def __init__(self, params):
        self.encoded = {
            name: [f"{name}={quote_plus(str(value))}" for value in params.getlist(name) if str(value).strip()]
            for name in FILTER_PARAMETERS
        }

    def __call__(self, **replacing):
        parts = []
        for name in FILTER_PARAMETERS:
            if name in replacing:
                parts += [f"{name}={quote_plus(str(value))}" for value in replacing[name] if str(value).strip()]
            else:
                parts += self.encoded[name]
        return "&".join(parts)


def library_access(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _page_request(request, errors):
    """``page`` and ``after`` from the request; a bad one is named in ``errors`` and ignored."""
    page, after = 1, None
    raw_page = request.GET.get("page", "")
    if raw_page:
        try:
            page = int(raw_page)
        except ValueError:
            errors.append(_("Page: «%(value)s» is not a page number.") % {"value": raw_page[:20]})
            page = 1
        if page < 1:
            errors.append(_("Page: pages start at 1."))
            page = 1
        elif page > selectors.MAX_PAGE:
            errors.append(
                _("Page: only the first %(max)d pages have numbers; narrow the filter or follow the next links.")
                % {"max": selectors.MAX_PAGE}
            )
            page = 1
    raw_after = request.GET.get("after", "")
    if raw_after:
        after = selectors.parse_after(raw_after)
        if after is None:
            errors.append(_("The position in the list is not valid; showing the first page."))
    return page, after


def _filter_request(request):
    """The filter, its criteria, the page and position asked for, and one message per parameter that was
    invalid and so left out: what the page shows in its message box, and why an export is refused."""
    filterset = LibraryFilter(request.GET or None)
    errors = filterset.error_messages()
    # A misspelt name (``regoin``, ``Region``, ``region[]``) would otherwise be ignored silently: the page would
    # show, and an export write, more than was asked for.
    for name in sorted(set(request.GET) - PAGE_PARAMETERS - set(LibraryFilter.base_filters)):
        errors.append(_("Unknown filter: %(name)s") % {"name": name[:50]})
    criteria = filterset.criteria()
    page, after = _page_request(request, errors)
    if criteria.keyword and not criteria.tokens:
        errors.append(_("Keyword: «%(keyword)s» has no words to search for.") % {"keyword": criteria.keyword[:50]})
    if criteria.sort == "relevance" and not criteria.tokens:
        errors.append(_("Sorting by relevance needs a keyword; sorted newest first."))
    return filterset, criteria, page, after, errors


def _chips(request, filterset, criteria):
    """One chip per active filter value, each with the address of the filter without that one value (its ×)
    and the criteria that address gives (for the empty state's counts)."""
    data = filterset.form.cleaned_data if filterset.is_bound else {}
    chips = []

    def add(label, criteria_without, **replacing):
        chips.append({"label": label, "query": filter_query(request.GET, **replacing), "criteria": criteria_without})

    for region in data.get("region") or ():
        rest = [code for code in request.GET.getlist("region") if code.strip() != str(region.code)]
        add(
            region.short_name,
            replace(criteria, regions=tuple(c for c in criteria.regions if c != region.code)),
            region=rest,
        )
    for theme in data.get("theme") or ():
        rest = [slug for slug in request.GET.getlist("theme") if slug != theme.slug]
        add(theme.name, replace(criteria, themes=tuple(t for t in criteria.themes if t != theme.pk)), theme=rest)
    for name, field, choices in (("level", "levels", Level), ("kind", "kinds", Kind)):
        for value in data.get(name) or ():
            rest = [v for v in request.GET.getlist(name) if v != value]
            without = replace(criteria, **{field: tuple(v for v in getattr(criteria, field) if v != value)})
            add(str(choices(value).label), without, **{name: rest})
    if criteria.date_from:
        add(
            _("From %(date)s") % {"date": criteria.date_from.isoformat()},
            replace(criteria, date_from=None),
            date_from=[],
        )
    if criteria.date_to:
        add(_("Until %(date)s") % {"date": criteria.date_to.isoformat()}, replace(criteria, date_to=None), date_to=[])
    if criteria.issuer:
        add(_("Issuing body: %(name)s") % {"name": criteria.issuer}, replace(criteria, issuer=""), issuer=[])
    if data.get("issue"):
        add(_("Issue: %(issue)s") % {"issue": data["issue"]}, replace(criteria, issue_id=None), issue=[])
    if criteria.keyword:
        add(
            _("Keyword: %(keyword)s") % {"keyword": criteria.keyword},
            replace(criteria, keyword="", tokens=()),
            q=[],
            sort=[],
        )
    return chips


EMPTY_STATE_CHOICES = 6  # the filter values an empty list offers to drop, each counted


def _drop_suggestions(chips):
    """For a list with nothing in it: what dropping each filter value would show, most first (the first is
    the narrowest filter), and only those that show something."""
    counted = []
    for chip in chips[:EMPTY_STATE_CHOICES]:
        count, approximate = selectors.library_count(chip["criteria"])
        if count:
            counted.append({**chip, "count": count, "approximate": approximate})
    return sorted(counted, key=lambda chip: -chip["count"])


PAGE_WINDOW = 2  # page numbers shown either side of the current one


def _page_url(query, **extra):
    pairs = "&".join(f"{name}={value}" for name, value in extra.items())
    joined = "&".join(part for part in (query, pairs) if part)
    return f"?{joined}" if joined else "?"


def _pager(results, count, approximate, query, per_page):
    """Previous/next and page numbers while the count is exact (up to ``MAX_PAGE``); beyond that, and under
    an estimated count, "next" goes on by keyset (``after``). A relevance ranking pages by number."""
    pager = {"pages": [], "previous": None, "next": None, "first": None}
    number = results.number
    if number is None:  # a keyset page: back to the start, or on
        pager["first"] = _page_url(query)
        if results.has_next:
            pager["next"] = _page_url(query, after=results.next_after)
        return pager
    if number > 1:
        pager["previous"] = _page_url(query, page=number - 1) if number > 2 else _page_url(query)
    if results.ranked or approximate:
        if number > 2:
            pager["first"] = _page_url(query)
        if results.has_next:
            following = {"page": number + 1} if results.ranked else {"after": results.next_after}
            pager["next"] = _page_url(query, **following)
        return pager
    last = min(math.ceil(count / per_page), selectors.MAX_PAGE)
    shown = sorted({1, last, *range(max(1, number - PAGE_WINDOW), min(last, number + PAGE_WINDOW) + 1)})
    previous = 0
    for page in shown:
        if page > previous + 1:
            pager["pages"].append(None)  # a gap
        pager["pages"].append(
            {
                "number": page,
                "url": _page_url(query, page=page) if page > 1 else _page_url(query),
                "current": page == number,
            }
        )
        previous = page
    if results.has_next:
        pager["next"] = (
            _page_url(query, page=number + 1) if number < last else _page_url(query, after=results.next_after)
        )
    return pager


def _position_query(query, results):
    """The filter and the position in the list: what an entry's page links back to."""
    if results.number and results.number > 1:
        return "&".join(part for part in (query, f"page={results.number}") if part)
    return query


def _form_markup(criteria, filterset):
    """The filter's choices as markup, from the cached vocabulary (``selectors.vocabulary``)."""
    vocabulary = selectors.vocabulary()
    data = filterset.form.cleaned_data if filterset.is_bound else {}
    issue = data.get("issue")
    return {
        "regions": checkbox_list(
            "region", [(str(r.code), r.short_name) for r in vocabulary["provinces"]], {str(c) for c in criteria.regions}
        ),
        "themes": checkbox_list(
            "theme",
            [(t.slug, t.name) for t in vocabulary["themes"]],
            {t.slug for t in vocabulary["themes"] if t.pk in criteria.themes},
        ),
        "levels": checkbox_list("level", Level.choices, set(criteria.levels)),
        "kinds": checkbox_list("kind", Kind.choices, set(criteria.kinds)),
        "issues": issue_options(vocabulary["issues"], issue.pk if issue else None),
    }


@require_GET
@library_access
def index(request):
    filterset, criteria, page, after, errors = _filter_request(request)
    results, count, approximate = selectors.library_list(criteria, page=page, after=after, per_page=selectors.PER_PAGE)
    if page > 1 and not results.entries:
        errors.append(_("There is nothing on page %(page)d of this list.") % {"page": page})
    query = filter_query(request.GET)
    chips = _chips(request, filterset, criteria)
    empty = not results.entries and page == 1 and not after
    return render(
        request,
        "library/index.html",
        {
            "filter": filterset,
            "criteria": criteria,
            "results": results,
            "count": count,
            "approximate": approximate,
            "errors": errors,
            "query": query,
            "back_query": _position_query(query, results),
            "chips": chips,
            "suggestions": _drop_suggestions(chips) if empty and chips else [],
            "pager": _pager(results, count, approximate, query, selectors.PER_PAGE),
            "choices": _form_markup(criteria, filterset),
            "one_province": criteria.regions[0]
            if len(criteria.regions) == 1 and criteria.regions[0] % 10000 == 0
            else None,
            "saved_filters": SavedFilter.objects.filter(user=request.user)[:20],
        },
    )


ISSUERS_SHOWN = 20


def facet_list_html(list_id, items, *, approximate, data=None, single=False):
    """One facet list as markup: each value a link with its count, the chosen ones marked. Built as a string:
    a template costs more per item (escaping, localising each number) than reading the counts from the cache."""
    about = esc(_("about")) + " " if approximate else ""
    rows = []
    for item in items:
        marked = ' class="chosen"' if item["chosen"] else ""
        current = ' aria-current="true"' if item["chosen"] else ""
        attribute = f' data-{data}="{esc(item["key"])}"' if data else ""
        rows.append(
            f'<li{marked}><a href="{esc(item["url"])}"{attribute}{current}>{esc(item["label"])}</a> '
            f'<span class="n">{about}{item["count"]}</span></li>'
        )
    classes = "facet-list single" if single else "facet-list"
    body = "".join(rows) or "<li>—</li>"
    return mark_safe(f'<ul class="{classes}" id="{list_id}">{body}</ul>')  # every value escaped above


def _chosen_year(criteria):
    """The year the date filter is exactly (1 January to 31 December), else None."""
    start, end = criteria.date_from, criteria.date_to
    if start and end and start == datetime.date(start.year, 1, 1) and end == datetime.date(start.year, 12, 31):
        return start.year
    return None


def _facets_context(request, *, map_link=None, lists=tuple(selectors.FACETS), version=None):
    """Counts per province, theme, level, kind, year and issuing body, each leaving its own choice out
    (``selectors.facet_criteria``), with links that choose that one value instead, so a click shows the number
    it was next to; and the map, whose tiles link to the same filter with that province (or ``map_link``)."""
    criteria = LibraryFilter(request.GET or None).criteria()
    facets = {by: {} for by in selectors.FACETS} | selectors.library_facets(criteria, facets=lists, version=version)
    queries = FilterQueries(request.GET)
    query = queries()
    index_url = reverse("library:index")

    def link(**replacing):
        found = queries(**replacing)
        return f"{index_url}?{found}" if found else index_url

    def items(values, by, chosen, parameter):
        """``values`` as (key in the counts, parameter value, label, object): those counted or chosen."""
        counts = facets[by]
        return [
            {
                "value": value,
                "label": label,
                "count": counts.get(key, 0),
                "chosen": key in chosen,
                "key": parameter_value,
                "query": queries(**{parameter: [parameter_value]}),
                "url": link(**{parameter: [parameter_value]}),
            }
            for key, parameter_value, label, value in values
            if counts.get(key) or key in chosen
        ]

    vocabulary = selectors.vocabulary()
    provinces = vocabulary["provinces"]
    year_chosen = _chosen_year(criteria)
    years = [
        {
            "value": year,
            "key": str(year),
            "label": str(year),
            "count": n,
            "chosen": year == year_chosen,
            "url": link(date_from=[f"{year}-01-01"], date_to=[f"{year}-12-31"]),
        }
        for year, n in sorted(facets["years"].items(), reverse=True)
    ]
    issuers = sorted(facets["issuers"].items(), key=lambda item: (-item[1], item[0]))
    approximate = facets["approximate"]
    context = {
        "criteria": criteria,
        "province_facets": items(
            [(r.code, str(r.code), r.short_name, r) for r in provinces], "provinces", criteria.regions, "region"
        ),
        "theme_facets": items(
            [(t.pk, t.slug, t.name, t) for t in vocabulary["themes"]], "themes", criteria.themes, "theme"
        ),
        "level_facets": items([(v, v, label, v) for v, label in Level.choices], "levels", criteria.levels, "level"),
        "kind_facets": items([(v, v, label, v) for v, label in Kind.choices], "kinds", criteria.kinds, "kind"),
        "year_facets": years,
        "issuer_facets": [
            {"label": name, "count": n, "chosen": name == criteria.issuer, "url": link(issuer=[name])}
            for name, n in issuers[:ISSUERS_SHOWN]
        ],
        "issuer_names": [name for name, _n in issuers],
        "approximate_facets": approximate,
        "map": china_tile_map_svg(
            counts=facets["provinces"],
            regions=provinces,
            chosen=criteria.regions,
            approximate="provinces" in approximate,
            link=map_link or (lambda code: link(region=[code])),
        ),
        "query": query,
    }
    lists = (
        ("province_facets", "provinces", "region"),
        ("theme_facets", "themes", "theme"),
        ("level_facets", "levels", "level"),
        ("kind_facets", "kinds", "kind"),
        ("year_facets", "years", "year"),
        ("issuer_facets", "issuers", None),
    )
    context["lists"] = {
        by: facet_list_html(
            name.replace("_", "-"),
            context[name],
            approximate=by in approximate,
            data=data,
            single=by == "issuers",
        )
        for name, by, data in lists
    }
    return context


@require_GET
@library_access
def facets(request):
    """Facet counts and the map for the current filter: fetched apart from the page and cached."""
    return render(request, "library/_facets.html", _facets_context(request))


@require_GET
@library_access
def map_svg(request):
    context = _facets_context(request, lists=("provinces",))
    return HttpResponse(context["map"], content_type="image/svg+xml; charset=utf-8")


@require_GET
@library_access
def export(request, extension):
    """The current filter as a file. A filter with an invalid parameter is refused (400) with the page's
    messages: leaving the parameter out, as the page does, could export far more than was asked for (with
    every parameter invalid, the whole catalogue)."""
    _filterset, criteria, _page, _after, errors = _filter_request(request)
    if errors:
        return render(request, "library/export_refused.html", {"errors": errors}, status=400)
    if extension == "csv":
        return exports.csv_response(criteria)
    return exports.xlsx_response(criteria)


def _back_query(request):
    """The list an entry was opened from (its filter and position), for the entry page's links back."""
    query = filter_query(request.GET)
    raw_page = request.GET.get("page", "")
    if raw_page.isdigit() and 1 < int(raw_page) <= selectors.MAX_PAGE:
        query = "&".join(part for part in (query, f"page={int(raw_page)}") if part)
    return query


@require_GET
@library_access
def entry_detail(request, pk):
    entry = selectors.library_entry(pk)
    if entry is None:
        raise Http404(_("No such entry in the library."))
    return render(
        request,
        "library/entry_detail.html",
        {
            "entry": entry,
            "related": selectors.related_entries(entry),
            "back_query": _back_query(request),
            "criteria": LibraryFilter(request.GET or None).criteria(),  # the list's, for its keyword's marks
        },
    )


@require_GET
@library_access
def province_detail(request, code):
    province = next((region for region in selectors.provinces() if region.code == code), None)
    if province is None:
        raise Http404(_("No such province."))
    version = catalogue_version()
    summary = selectors.province_summary(code=province.code, version=version)
    themes = selectors.themes()
    latest = selectors.library_page(selectors.Criteria(regions=(province.code,)), per_page=10)
    query = filter_query(request.GET)
    province_url = reverse("library:province", args=[province.code]).replace(f"/{province.code}/", "/{code}/")

    def province_page(other):
        url = province_url.format(code=int(other))
        return f"{url}?{query}" if query else url

    context = _facets_context(request, map_link=province_page, lists=("provinces",), version=version)
    by_city = summary.get("by_city", [])
    context.update(
        {
            "province": province,
            "by_theme": [
                (theme, summary["by_theme"][theme.pk]) for theme in themes if summary["by_theme"].get(theme.pk)
            ],
            "by_month": [(month.strftime("%Y-%m"), n) for month, n in summary["by_month"]],
            "top_month": max((n for _month, n in summary["by_month"]), default=0),
            "by_city": by_city,
            "top_city": max((n for _code, _name, n in by_city), default=0),
            "latest": latest.entries,
            "index_url": reverse("library:index"),
        }
    )
    return render(request, "library/province_detail.html", context)


@library_access
def saved_filters(request):
    error = None
    if request.method == "POST":
        form = SavedFilterForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError([message for messages in form.errors.values() for message in messages])
            saved_filter_create(user=request.user, name=form.cleaned_data["name"], params=request.POST)
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
        else:
            return redirect("library:saved")
    return render(
        request,
        "library/saved_filters.html",
        {"saved_filters": SavedFilter.objects.filter(user=request.user), "error": error},
        status=400 if error else 200,
    )


@require_POST
@library_access
def saved_filter_remove(request, pk):
    saved_filter_delete(user=request.user, saved_filter_id=pk)
    return redirect("library:saved")
