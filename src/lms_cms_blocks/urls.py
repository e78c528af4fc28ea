"""URLs of lms_cms_blocks; include them under a prefix of your choice, e.g. ``path("blocks/", include(...))``.

The cell-state API (the learner's saved code, outputs and exercise passes; see the runtime docs):

- ``api/cells/<page_id>/``: ``GET`` every saved block of the page;
- ``api/cells/<page_id>/<block_id>``: ``GET``, ``PATCH``, ``PUT``, ``DELETE`` (reset to the original);
- ``api/cells/<page_id>/<block_id>/check``: ``POST`` the result of the block's exercise check.
"""

from django.urls import path, re_path

from .cells import views

app_name = "lms_cms_blocks"

BLOCK_ID = r"(?P<block_id>[A-Za-z0-9_-]{1,64})"

urlpatterns = [
    path("api/cells/<int:page_id>/", views.CellStateListView.as_view(), name="cells-list"),
    re_path(
        rf"^api/cells/(?P<page_id>[0-9]+)/{BLOCK_ID}$",
        views.CellStateDetailView.as_view(),
        name="cells-detail",
    ),
    re_path(
        rf"^api/cells/(?P<page_id>[0-9]+)/{BLOCK_ID}/check$",
        views.CellCheckView.as_view(),
        name="cells-check",
    ),
]
