"""The images of an uploaded zip, each checked as a loose upload is, without trusting the archive.

Members are read one by one into files the page names (never ``extractall``): a path with ``..`` or a
leading ``/`` cannot leave the session's folder, a member is read up to the per-file bound whatever its
header claims (a zip bomb stops there), and folders inside the zip are kept as folders, so two
``a.jpg`` in different folders get distinct output names as ``tools/infer.py`` gives them.
"""
from __future__ import annotations

import os
import os.path as osp
import zipfile
from typing import List, Tuple

from .limits import UploadLimits
from .uploads import IMAGE_EXTENSIONS, UploadedImage, UploadProblem, check_image, unused_path

MACOS_FOLDER = "__MACOSX"  # macOS's resource forks; they and hidden files (a part named '.x') are not photos


def member_parts(name: str) -> List[str]:
    """The folders and file name of a member, without empty, '.' and '..' parts (no way out of the folder)."""
    return [part for part in name.replace("\\", "/").split("/") if part not in ("", ".", "..")]


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, limits: UploadLimits) -> bytes:
    if info.flag_bits & 0x1:
        raise UploadProblem(f"{shown} is encrypted")
    if info.file_size > limits.max_file_bytes:
        raise UploadProblem(f"{shown} is {info.file_size / 2 ** 20:.0f} MiB unpacked, above the page's "
                            f"{limits.max_file_megabytes:.0f} MiB per file")
    try:
        with archive.open(info) as member:
            data = member.read(limits.max_file_bytes + 1)
    except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as err:
        raise UploadProblem(f"{shown} cannot be unpacked ({err})") from err
    if len(data) > limits.max_file_bytes:
        raise UploadProblem(f"{shown} unpacks to more than the page's {limits.max_file_megabytes:.0f} MiB per file")
    return data


def unpack_images(zip_path: str, name: str, folder: str, limits: UploadLimits, room: int,
                  bound: str) -> Tuple[List[UploadedImage], List[str]]:
    """The images of the zip ``zip_path`` (shown as ``name``) written under ``folder``, and a message per entry
    left out (not an image, unreadable, too large, beyond ``room`` images: ``bound`` says why) or noted (folders)."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        return [], [f"{name} is not a zip archive the page can read ({err})"]
    images, problems, folders = [], [], set()
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_zip_members:
            problems.append(f"{name} holds {len(members)} entries: only the first {limits.max_zip_members} are read")
        for info in members[:limits.max_zip_members]:
            parts = member_parts(info.filename)
            if info.is_dir() or not parts or parts[0] == MACOS_FOLDER or any(part.startswith(".") for part in parts):
                continue
            shown = f"{name}/{'/'.join(parts)}"
            if not parts[-1].lower().endswith(IMAGE_EXTENSIONS):
                problems.append(f"{shown} is not an image (left out)")
                continue
            if len(images) == room:
                problems.append(f"{shown} is left out: {bound}")
                continue
            try:
                data = _read_member(archive, info, shown, limits)
            except UploadProblem as problem:
                problems.append(str(problem))
                continue
            path = unused_path(osp.join(folder, *parts[:-1]), parts[-1])
            with open(path, "wb") as handle:
                handle.write(data)
            try:
                height, width = check_image(path, shown, limits)
            except UploadProblem as problem:
                os.remove(path)
                problems.append(str(problem))
                continue
            images.append(UploadedImage(path, shown, height, width))
            folders.update(["/".join(parts[:-1])] if len(parts) > 1 else [])
    if folders:
        problems.append(f"{name}: images taken from its folders {', '.join(sorted(f + '/' for f in folders))} "
                        f"(output names keep a folder where two names meet)")
    return images, problems
