"""Project glue: the Jupyter block's kernelspec chooser lists lms_kernels' environments.

lms_cms_blocks does not import lms_kernels (each app works alone); the project connects them through
``LMS_CMS_BLOCKS["KERNELSPECS"]``.
"""


def lms_kernels_environments():
    """``[(kernelspec name, display name), ...]`` of the active kernel environments."""
    from lms_kernels.models import KernelEnvironment

    return list(
        KernelEnvironment.objects.active().order_by("display_name").values_list("slug", "display_name")
    )
