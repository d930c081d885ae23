from import_export import fields

from policies.resources import EntryResource, partner_widget
from practices.models import Practice


class PracticeResource(EntryResource):
    partners = fields.Field(attribute="partners", column_name="合作伙伴", widget=partner_widget())

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
