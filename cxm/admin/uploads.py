"""Importing files an admin uploaded in the browser: table files, or one zip of them.

The uploads are staged in a private folder beside the warehouse (``<its folder>/.staging/``,
on its disk, whose free space is checked first; removed afterwards) and handed to
`cxm.pipeline.import_dir`, the same all-or-nothing import as ``cxm import``: every problem is
listed and nothing is written when there is one. Problems of the upload itself are found
before anything is written, with their own codes (docs/errors.md): a zip that is not one, a
member whose path leaves the folder or is a link, a name with a control character, a zip that
would unpack to more than `MAX_UNPACKED_BYTES`, a file uploaded twice. A zip may hold its
files at the top or inside one folder; the system files macOS adds (``__MACOSX/``, ``._*``,
``.DS_Store``) are left out and named in the result. Messages name the uploaded files only,
never a folder on the server. Every import, refused, written or failed, is audited.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cxm.access import Role, User, require_role
from cxm.admin import _audit
from cxm.errors import CxmError, ImportIssue, ImportRejected
from cxm.pipeline import import_dir
from cxm.warehouse import audit, failures, space, store
from cxm.warehouse._files import bad_file_name, escaped, unprintable
from cxm.warehouse.failures import ImportFailed
from cxm.warehouse.importer import ImportResult

_log = logging.getLogger("cxm")

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


#: A file to stage: its name, where it came from (for messages), how to write it, its size.
_Found = tuple[str, str, Callable[[Path], object], int]


def _zip_members(upload: Upload, issues: list[ImportIssue], skipped: list[str]) -> list[_Found]:
    """Return the table files of a zip to write, once the zip is found safe to unpack (else
    none, with its problems added to ``issues``); system files go to ``skipped``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError):
        issues.append(_issue(upload.name, "bad_zip", "is not a readable zip file"))
        return []
    # zipfile cuts a name at a NUL; the name as stored is ``orig_filename``.
    problems = [
        bad_file_name(m.orig_filename, f"{upload.name}: ")
        for m in members
        if unprintable(m.orig_filename)
    ]
    members = [m for m in members if not unprintable(m.orig_filename)]
    skipped += [m.filename for m in members if _system(m.filename)]
    members = [m for m in members if not _system(m.filename)]
    for m in members:
        path = PurePosixPath(m.filename)
        if path.name.startswith("."):  # the import would skip it: say so, never drop it
            problems.append(_issue(f"{upload.name}: {m.filename}", "unknown_file", _HIDDEN))
        elif path.is_absolute() or ".." in path.parts or "\\" in m.filename:
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
        (PurePosixPath(m.filename).name, upload.name, functools.partial(extract, m), m.file_size)
        for m in members
    ]


_HIDDEN = "is a hidden file, not a table file"


def _plan(uploads: Sequence[Upload]) -> tuple[dict[str, _Found], list[str]]:
    """Return the files to stage by name, and the system files left out; write nothing.

    Raises
    ------
    ImportRejected
        On a file uploaded twice (loose, in a zip, or twice in one zip), a name with a folder
        or a control character in it, a hidden file, or a zip that is not safe to unpack.
    """
    issues: list[ImportIssue] = []
    skipped: list[str] = []
    pending: dict[str, _Found] = {}
    for upload in uploads:
        if unprintable(upload.name):
            issues.append(bad_file_name(upload.name))
            found = []
        elif upload.name.lower().endswith(".zip"):
            found = _zip_members(upload, issues, skipped)
        elif PurePosixPath(upload.name).name != upload.name or "\\" in upload.name:
            issues.append(_issue(upload.name, "unsafe_path", "has a folder in its name"))
            found = []
        elif upload.name.startswith("."):  # the import skips hidden files: say so, never drop
            issues.append(_issue(upload.name, "unknown_file", _HIDDEN))
            found = []
        else:
            write = functools.partial(Path.write_bytes, data=upload.data)
            found = [(upload.name, "the upload", write, len(upload.data))]
        for entry in found:
            name, source = entry[:2]
            if name in pending:
                issues.append(_duplicate(name, pending[name][1], source))
            else:
                pending[name] = entry
    if issues:
        raise ImportRejected(_label(uploads), issues)
    return pending, skipped


def stage(uploads: Sequence[Upload], into: Path) -> tuple[list[str], list[str]]:
    """Write the uploads' table files into ``into``; return (file names, skipped names).

    Every upload is checked before anything is written (`ImportRejected`, as `_plan` says).
    """
    pending, skipped = _plan(uploads)
    for name, _, write, _ in pending.values():
        write(into / name)
    return list(pending), skipped


def _staged_import(
    pending: dict[str, _Found], *, check_only: bool, source: str, step: Callable[[str], None]
) -> ImportResult:
    """Write the planned files into a private folder beside the warehouse, on its disk, and
    import them from there; the folder is removed afterwards, whatever happens."""
    target = store.warehouse_path()
    sizes = [(name, entry[3]) for name, entry in pending.items()]
    if not check_only:
        space.check_import(target, sizes, staged=sum(size for _, size in sizes))
    staging = target.parent / ".staging"
    with failures.named(target, writing=True):
        staging.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="upload-", dir=staging) as tmp:
            folder = Path(tmp)
            step(f"Saving {len(pending)} uploaded file{'s' if len(pending) != 1 else ''}")
            with failures.named(target, writing=True):
                for name, (_, _, write, _) in pending.items():
                    write(folder / name)
            return import_dir(folder, check_only=check_only, source=source, on_step=step)
    finally:
        try:
            staging.rmdir()  # when no other upload is staged there
        except OSError:
            pass


def _unnamed(exc: Exception) -> CxmError:
    """Return the failure shown for an error cxm has no name for, logged with its details."""
    _log.exception("import of an upload failed")
    return ImportFailed(
        f"The import stopped on an unexpected error ({type(exc).__name__}); nothing was "
        "written and the warehouse is as it was. The server's log has the details: report "
        "it with the time of this attempt."
    )


def _duplicate(name: str, first: str, second: str) -> ImportIssue:
    return _issue(name, "duplicate_upload", f"comes twice (in {first} and in {second}); keep one")


def _label(uploads: Sequence[Upload]) -> str:
    return "the upload of " + ", ".join(escaped(u.name) for u in uploads)


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
    CxmError
        What else stopped it, by name (`DiskFull`, `WarehouseBusy`, `WarehouseCorrupt`, ...;
        `ImportFailed` for an error cxm has no name for, logged with its traceback); audited
        as "import failed" with its code. The warehouse is untouched.
    """
    actor = require_role(actor, Role.ADMIN)
    label = _label(uploads)
    step = on_step or (lambda text: None)
    try:
        pending, skipped = _plan(uploads)
        files = list(pending)
        result = _staged_import(pending, check_only=check_only, source=label, step=step)
    except ImportRejected as exc:
        _audit.record(actor, "import refused", f"{label}: {exc.total:,} problems", None)
        raise
    except Exception as exc:
        failure = exc if isinstance(exc, CxmError) else _unnamed(exc)
        who = (actor.username, actor.role.value, actor.scope.describe())
        audit.record_failed_load(*who, label, failure)
        if failure is exc:
            raise
        raise failure from exc
    action = "import checked" if check_only else "import"
    rows = ", ".join(f"{t} {n:,}" for t, n in result.rows.items())
    _audit.record(actor, action, f"{label}: {rows}", sum(result.rows.values()))
    return UploadResult(result=result, files=tuple(files), skipped=tuple(skipped))
