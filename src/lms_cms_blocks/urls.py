"""URLs of lms_cms_blocks; include them under a prefix of your choice, e.g. ``path("blocks/", include(...))``.

The cell-state API (the learner's saved code, outputs and exercise passes; see the runtime docs):

- ``api/cells/<page_id>/``: ``GET`` every saved block of the page;
- ``api/cells/<page_id>/<block_id>``: ``GET``, ``PATCH``, ``PUT``, ``DELETE`` (reset to the original);
- ``api/cells/<page_id>/<block_id>/check``: ``POST`` the result of the block's exercise check.
"""

from django.urls import path

from lms_common import converters

from .cells import views

app_name = "lms_cms_blocks"

converters.register()  # <lms_str:...>: a block id never holds a NUL (%00), which PostgreSQL refuses in a query

urlpatterns = [
    path("api/cells/<int:page_id>/", views.CellStateListView.as_view(), name="cells-list"),
    path(
        "api/cells/<int:page_id>/<lms_str:block_id>", views.CellStateDetailView.as_view(), name="cells-detail"
    ),
    path(
        "api/cells/<int:page_id>/<lms_str:block_id>/check", views.CellCheckView.as_view(), name="cells-check"
    ),
]
