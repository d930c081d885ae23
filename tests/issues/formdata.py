"""The values a browser would submit from a form on an admin page (the change form's fields and inlines)."""

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data = {}
        self._select = None
        self._select_multiple = False
        self._textarea = None
        self.textareas = set()

    def _add(self, name, value, multiple=False):
        if multiple:
            self.data.setdefault(name, []).append(value)
        else:
            self.data[name] = value

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
            return
        if not self.inside or ("name" not in attrs and tag != "option"):
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._add(attrs["name"], attrs.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self._select, self._select_multiple = attrs["name"], "multiple" in attrs
            if not self._select_multiple:
                self.data.setdefault(self._select, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self._add(self._select, attrs.get("value", ""), multiple=self._select_multiple)
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.textareas.add(self._textarea)
            self.data[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def form_data(html, form_id):
    reader = _FormReader(form_id)
    reader.feed(html)
    data = reader.data
    for name in reader.textareas:
        if data[name].startswith("\n"):
            data[name] = data[name][1:]  # the newline after <textarea> is not part of its value
    return data
