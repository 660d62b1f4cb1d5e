"""Open a course notebook in JupyterLab without it showing as modified.

When a kernel starts, JupyterLab writes the kernel's name and language (with the exact Python
version) into the notebook's metadata; if they differ from what the file holds, the untouched
notebook shows as modified and closing it asks to save. A file can carry one Python version
only, and learners run several, so ``make lab`` (``release/lab_settings.py``) configures the
server to hand each notebook out with this environment's kernel metadata already in place. The
file on disk changes only when the learner saves.

>>> meta = {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
>>> fill_kernel_metadata(meta, "Python 3 (ipykernel)")["language_info"]["version"] == platform.python_version()
True
"""

from __future__ import annotations

import platform

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager


def fill_kernel_metadata(metadata: dict, display_name: str) -> dict:
    """``metadata`` with the ``python3`` kernel's spec and language info, as this Python's kernel
    reports them; a notebook for another kernel is left as it is."""
    if metadata.get("kernelspec", {}).get("name", "python3") != "python3":
        return metadata
    metadata["kernelspec"] = {"display_name": display_name, "language": "python", "name": "python3"}
    metadata["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
        "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3", "version": platform.python_version(),
    }
    return metadata


class CourseContentsManager(AsyncLargeFileManager):
    """Jupyter Server's default contents manager, handing notebooks out with filled metadata."""

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        model = await super().get(path, content=content, type=type, format=format,
                                  require_hash=require_hash)
        if content and model.get("type") == "notebook":
            from jupyter_client.kernelspec import KernelSpecManager

            name = KernelSpecManager().get_kernel_spec("python3").display_name
            fill_kernel_metadata(model["content"]["metadata"], name)
        return model
