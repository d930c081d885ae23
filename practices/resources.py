from policies.resources import EntryResource
from practices.models import Practice


class PracticeResource(EntryResource):
    class Meta(EntryResource.Meta):
        model = Practice
        fields = (
            "id",
            "title",
            "level",
            "regions",
            "partners",
            "themes",
            "published_on",
            "source_url",
            "summary",
            "status",
        )
        export_order = fields
