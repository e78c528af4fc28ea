"""drf-spectacular's annotations when it is installed (the ``server`` extra), no-ops when it is not."""

try:
    from drf_spectacular.utils import OpenApiParameter, extend_schema
except ImportError:  # pragma: no cover - depends on the install

    class OpenApiParameter:  # type: ignore[no-redef]
        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs

    def extend_schema(*args, **kwargs):  # type: ignore[no-redef]
        return lambda target: target


__all__ = ["OpenApiParameter", "extend_schema"]
