"""The sales library: thin views over ``library.filters.LibraryFilter`` and ``library.selectors``.

Anyone signed in who may view the catalogue (sales, researchers, chief editors) may use it; anonymous
visitors are sent to the login page. Bad input never fails the request: an invalid parameter is left out
and named in a message on the page."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from library import exports, selectors
from library.filters import LibraryFilter
from library.forms import SavedFilterForm
from library.maps import china_map_svg
from library.models import SavedFilter
from library.services import filter_query, saved_filter_create, saved_filter_delete
from policies.models import Region

VIEW_PERMISSION = "policies.view_entry"
# The page's own parameters besides the filter's (``LibraryFilter``): the page number and the keyset cursor.
PAGE_PARAMETERS = frozenset({"page", "after"})


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


@require_GET
@library_access
def index(request):
    filterset, criteria, page, after, errors = _filter_request(request)
    results = selectors.library_page(criteria, page=page, after=after, per_page=selectors.PER_PAGE)
    if page > 1 and not results.entries:
        errors.append(_("There is nothing on page %(page)d of this list.") % {"page": page})
    count, approximate = selectors.library_count(criteria)
    query = filter_query(request.GET)
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
            "saved_filters": SavedFilter.objects.filter(user=request.user)[:20],
        },
    )


def _facets_context(request):
    """Counts per province and per theme, each leaving its own choice out (``selectors.facet_criteria``), with
    links that choose that one value instead, so a click shows the number it was next to; and the map."""
    criteria = LibraryFilter(request.GET or None).criteria()
    facets = selectors.library_facets(criteria)
    query = filter_query(request.GET)

    def items(values, counts, chosen, parameter, key):
        return [
            {
                "value": value,
                "count": counts.get(key(value), 0),
                "chosen": key(value) in chosen,
                "query": filter_query(request.GET, **{parameter: [getattr(value, "slug", key(value))]}),
            }
            for value in values
            if counts.get(key(value)) or key(value) in chosen
        ]

    provinces = selectors.provinces()
    return {
        "criteria": criteria,
        "province_facets": items(provinces, facets["provinces"], criteria.regions, "region", lambda r: r.code),
        "theme_facets": items(selectors.themes(), facets["themes"], criteria.themes, "theme", lambda t: t.pk),
        "approximate_facets": facets["approximate"],
        "map": china_map_svg(
            counts=facets["provinces"],
            regions=provinces,
            chosen=criteria.regions,
            approximate="provinces" in facets["approximate"],
            link=lambda code: reverse("library:province", args=[code]) + (f"?{query}" if query else ""),
        ),
        "query": query,
    }


@require_GET
@library_access
def facets(request):
    """Facet counts and the map for the current filter: fetched apart from the page and cached."""
    return render(request, "library/_facets.html", _facets_context(request))


@require_GET
@library_access
def map_svg(request):
    context = _facets_context(request)
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


@require_GET
@library_access
def entry_detail(request, pk):
    entry = selectors.library_entry(pk)
    if entry is None:
        raise Http404(_("No such entry in the library."))
    return render(request, "library/entry_detail.html", {"entry": entry, "related": selectors.related_entries(entry)})


@require_GET
@library_access
def province_detail(request, code):
    province = get_object_or_404(Region, code=code, parent=None)
    summary = selectors.province_summary(code=province.code)
    themes = selectors.themes()
    latest = selectors.library_page(selectors.Criteria(regions=(province.code,)), per_page=10)
    context = _facets_context(request)
    context.update(
        {
            "province": province,
            "by_theme": [
                (theme, summary["by_theme"][theme.pk]) for theme in themes if summary["by_theme"].get(theme.pk)
            ],
            "by_month": summary["by_month"],
            "top_month": max((n for _month, n in summary["by_month"]), default=0),
            "latest": latest.entries,
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
