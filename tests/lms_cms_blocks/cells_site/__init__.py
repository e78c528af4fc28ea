"""A test-only lesson page for the Jupyter block's runtime tests (cell-state API, browser).

Its block mirrors the ``JupyterBlock`` contract (``source``, ``environment``, ``setup_code``, ``outputs``,
``check_code``; template ``lms_cms_blocks/blocks/jupyter.html``) and its page template passes ``block_id`` and
``page`` to each block as ``BaseStreamBlock`` does, so these tests depend only on that contract.
"""
