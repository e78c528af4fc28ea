from rest_framework.renderers import BaseRenderer


class CSVRenderer(BaseRenderer):
    """Lets ``?format=csv`` select the report views' CSV answers (the views build the file themselves); errors
    rendered with it come out as their JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        import json

        return json.dumps(data, ensure_ascii=False).encode() if data is not None else b""
