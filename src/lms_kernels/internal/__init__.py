"""Helpers of lms_kernels that are not part of its public API."""
