"""Internal helpers of lms_core: not a public API."""
