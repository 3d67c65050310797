"""Importing files an admin uploaded in the browser: table files, or one zip of them.

The uploads are staged in a private temporary folder and handed to `cxm.pipeline.import_dir`,
the same all-or-nothing import as ``cxm import``: every problem is listed and nothing is
written when there is one. Problems of the upload itself are found before any table is read,
with their own codes (docs/errors.md): a zip that is not one, a member whose path leaves the
folder or is a link, a zip that would unpack to more than `MAX_UNPACKED_BYTES`, a file
uploaded twice. A zip may hold its files at the top or inside one folder; the system files
macOS adds (``__MACOSX/``, ``._*``, ``.DS_Store``) are left out and named in the result.
Every import, refused or written, is audited with its files and rows.
"""

from __future__ import annotations

import functools
import io
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cxm.access import Role, User, require_role
from cxm.admin import _audit
from cxm.errors import ImportIssue, ImportRejected
from cxm.pipeline import import_dir
from cxm.warehouse.importer import ImportResult

#: The most a zip may unpack to (a zip bomb is refused before anything is written to disk).
MAX_UNPACKED_BYTES = 16 << 30
#: ... and the largest ratio of a member's unpacked to packed size (CSV packs ~5-15x).
MAX_RATIO = 200
_SYSTEM_FILES = ("__MACOSX/", "._", ".DS_Store")


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the browser gave it, and its bytes."""

    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class UploadResult:
    """What an upload imported (or checked), and the zip members it left out as system files."""

    result: ImportResult
    files: tuple[str, ...]
    skipped: tuple[str, ...] = ()


def _issue(file: str, code: str, message: str) -> ImportIssue:
    return ImportIssue(file=file, code=code, message=message)


def _system(name: str) -> bool:
    return any(part.startswith(_SYSTEM_FILES) or part == "__MACOSX" for part in name.split("/"))


#: A file to stage: its name, where it came from (for messages), and how to write it.
_Found = tuple[str, str, Callable[[Path], object]]


def _zip_members(upload: Upload, issues: list[ImportIssue], skipped: list[str]) -> list[_Found]:
    """Return the table files of a zip to write, once the zip is found safe to unpack (else
    none, with its problems added to ``issues``); system files go to ``skipped``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError):
        issues.append(_issue(upload.name, "bad_zip", "is not a readable zip file"))
        return []
    skipped += [m.filename for m in members if _system(m.filename)]
    members = [m for m in members if not _system(m.filename)]
    problems = []
    for m in members:
        path = PurePosixPath(m.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in m.filename:
            problems.append(
                _issue(f"{upload.name}: {m.filename}", "unsafe_path", "leaves the zip's folder")
            )
        elif stat.S_ISLNK(m.external_attr >> 16):
            problems.append(_issue(f"{upload.name}: {m.filename}", "unsafe_path", "is a link"))
    folders = {PurePosixPath(m.filename).parent for m in members}
    if len(folders) > 1:
        problems.append(
            _issue(
                upload.name,
                "unsafe_path",
                "holds files in more than one folder ("
                + ", ".join(sorted(str(f) for f in folders))
                + "); put the table files in one folder",
            )
        )
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED_BYTES or any(
        m.file_size > MAX_RATIO * max(m.compress_size, 1) for m in members
    ):
        problems.append(
            _issue(
                upload.name,
                "zip_too_large",
                f"would unpack to {unpacked:,} bytes (at most {MAX_UNPACKED_BYTES:,}, and at most "
                f"{MAX_RATIO}x each file's packed size)",
            )
        )
    issues += problems
    if problems:
        return []

    def extract(member: zipfile.ZipInfo, target: Path) -> None:
        with archive.open(member) as src, open(target, "xb") as out:
            shutil.copyfileobj(src, out, 1 << 20)

    return [
        (PurePosixPath(m.filename).name, upload.name, functools.partial(extract, m))
        for m in members
    ]


def stage(uploads: Sequence[Upload], into: Path) -> tuple[list[str], list[str]]:
    """Write the uploads' table files into ``into``; return (file names, skipped names).

    Every upload is checked before anything is written.

    Raises
    ------
    ImportRejected
        On a file uploaded twice (loose, in a zip, or twice in one zip), a name with a folder
        in it, a hidden file, or a zip that is not safe to unpack; nothing is imported.
    """
    issues: list[ImportIssue] = []
    skipped: list[str] = []
    pending: dict[str, _Found] = {}
    for upload in uploads:
        if upload.name.lower().endswith(".zip"):
            found = _zip_members(upload, issues, skipped)
        elif PurePosixPath(upload.name).name != upload.name or "\\" in upload.name:
            issues.append(_issue(upload.name, "unsafe_path", "has a folder in its name"))
            found = []
        elif upload.name.startswith("."):  # the import skips hidden files: say so, never drop
            issues.append(_issue(upload.name, "unknown_file", "is a hidden file, not a table file"))
            found = []
        else:
            found = [
                (upload.name, "the upload", functools.partial(Path.write_bytes, data=upload.data))
            ]
        for name, source, write in found:
            if name in pending:
                issues.append(_duplicate(name, pending[name][1], source))
            else:
                pending[name] = (name, source, write)
    if issues:
        raise ImportRejected(_label(uploads), issues)
    for name, _, write in pending.values():
        write(into / name)
    return list(pending), skipped


def _duplicate(name: str, first: str, second: str) -> ImportIssue:
    return _issue(name, "duplicate_upload", f"comes twice (in {first} and in {second}); keep one")


def _label(uploads: Sequence[Upload]) -> str:
    return "the upload of " + ", ".join(u.name for u in uploads)


def import_uploads(
    actor: User | None,
    uploads: Sequence[Upload],
    *,
    check_only: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> UploadResult:
    """Check and import uploaded table files (admins only), all or nothing; audit either way.

    Raises
    ------
    NotAllowed
        When ``actor`` is not an admin.
    ImportRejected
        With every problem found; the warehouse is byte-for-byte what it was.
    """
    actor = require_role(actor, Role.ADMIN)
    label = _label(uploads)
    step = on_step or (lambda text: None)
    try:
        with tempfile.TemporaryDirectory(prefix="cxm-upload-") as tmp:
            folder = Path(tmp) / "files"
            folder.mkdir()
            step(f"Saving {len(uploads)} uploaded file{'s' if len(uploads) != 1 else ''}")
            files, skipped = stage(uploads, folder)
            result = import_dir(folder, check_only=check_only, source=label, on_step=step)
    except ImportRejected as exc:
        _audit.record(actor, "import refused", f"{label}: {exc.total:,} problems", None)
        raise
    action = "import checked" if check_only else "import"
    rows = ", ".join(f"{t} {n:,}" for t, n in result.rows.items())
    _audit.record(actor, action, f"{label}: {rows}", sum(result.rows.values()))
    return UploadResult(result=result, files=tuple(files), skipped=tuple(skipped))
