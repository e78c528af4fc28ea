"""Page-number pagination for every list of the API (``?page=2&page_size=100``)."""

from rest_framework.pagination import PageNumberPagination

__all__ = ["LmsPagination"]


class LmsPagination(PageNumberPagination):
    """50 rows a page by default, up to 200 with ``page_size``; a page past the end is a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
