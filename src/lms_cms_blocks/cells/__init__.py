"""The learner side of the Jupyter block on the server: the cell-state REST API (saved code, outputs, passes)."""
