"""drf-spectacular's ``extend_schema`` when it is installed (the ``server`` extra), else a no-op."""

try:
    from drf_spectacular.utils import extend_schema
except ImportError:  # pragma: no cover - the app works without drf-spectacular

    def extend_schema(*args, **kwargs):
        def decorate(view):
            return view

        return decorate


__all__ = ["extend_schema"]
