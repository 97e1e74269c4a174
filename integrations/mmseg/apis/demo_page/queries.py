"""The query set of a session from its uploads: image files and zips of images, replaced on each upload."""
from __future__ import annotations

import os.path as osp
from typing import List, Tuple

from .limits import UploadLimits
from .uploads import UploadedImage, store_images, unused_path
from .zip_input import unpack_images


def read_queries(uploads: List[str], folder: str, limits: UploadLimits) -> Tuple[List[UploadedImage], List[str]]:
    """The images of ``uploads`` (loose files into ``folder``, each zip's into ``folder/<zip name>/``), at most
    ``limits.max_queries``; a message per file or zip entry left out."""
    bound = f"the page takes at most {limits.max_queries} queries (tools/demo.py --max-queries)"
    images, messages = store_images([path for path in uploads if not path.lower().endswith(".zip")], folder,
                                    limits, limits.max_queries, bound)
    for path in uploads:
        if path.lower().endswith(".zip"):
            name = osp.basename(path)
            unpacked, notes = unpack_images(path, name, unused_path(folder, osp.splitext(name)[0]), limits,
                                            limits.max_queries - len(images), bound)
            images += unpacked
            messages += notes
    return images, messages
