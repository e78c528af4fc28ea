"""drf-spectacular's annotations when it is installed, harmless no-ops when it is not.

lms_core's base install does not depend on drf-spectacular (the example project and the ``server`` extra do), so
the API modules import ``extend_schema`` and friends from here, never from ``drf_spectacular`` directly.
"""

from __future__ import annotations

__all__ = [
    "OpenApiParameter",
    "OpenApiTypes",
    "extend_schema",
    "extend_schema_field",
    "spectacular_available",
]

try:
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
except ImportError:  # the base install: the schema is not generated, the annotations must cost nothing
    spectacular_available = False

    class OpenApiTypes:  # type: ignore[no-redef]
        """Stand-ins for the type names used in our annotations."""

        STR = str
        INT = int

    class OpenApiParameter:  # type: ignore[no-redef]
        QUERY = "query"

        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs

    def extend_schema(*args, **kwargs):  # type: ignore[no-redef]
        return lambda target: target

    def extend_schema_field(*args, **kwargs):  # type: ignore[no-redef]
        return lambda target: target

else:
    spectacular_available = True
