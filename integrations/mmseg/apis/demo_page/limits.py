"""What one browser session of the page may upload (issue 26: uploads bounded in size and count)."""
from dataclasses import dataclass

MEBIBYTE = 2 ** 20


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on a session's uploads; each refusal is a message in the page naming the file and the bound.

    Args:
        max_supports (int): Support images per session (the issue's 1-10).
        max_queries (int): Query images per session (loose files and zip members together).
        max_file_bytes (int): Bytes of one uploaded file (Gradio refuses larger uploads) and of one zip member.
        max_pixels (int): Pixels of one image, read from its header before anything is decoded (a 12000x9000
            photo is 108 million; a small PNG can declare billions).
        max_zip_members (int): Entries of one zip (folders included) that are looked at.
    """

    max_supports: int = 10
    max_queries: int = 100
    max_file_bytes: int = 50 * MEBIBYTE
    max_pixels: int = 64_000_000
    max_zip_members: int = 2000

    @property
    def max_megapixels(self) -> float:
        return self.max_pixels / 1e6

    @property
    def max_file_megabytes(self) -> float:
        return self.max_file_bytes / MEBIBYTE
