"""The files of one deploy read as (name, bytes): from a zip (untrusted input), or from paths.

Nothing is extracted to disk: entries become (name, bytes) in memory. At most ZIP_ENTRIES_MAX
entries and ZIP_TOTAL_MAX bytes once unpacked, counted while reading (the sizes in the zip's
headers are not trusted); encrypted entries and names that are absolute or climb out (`..`) are
refused; folders and macOS `__MACOSX/` metadata are skipped.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

from engine.bpmn.form_files import forms_folder, is_form_name
from engine.bpmn.specs import process_ids
from engine.bpmn.xmlsafe import read_bytes
from engine.errors import BpmnReadError, DeploymentError
from engine.limits import ZIP_ENTRIES_MAX, ZIP_TOTAL_MAX

CHUNK = 64 * 1024


def is_zip_name(name: str) -> bool:
    return name.lower().endswith(".zip")


def read_zip(data: bytes) -> list[tuple[str, bytes]]:
    """The files of a zip by their path inside it; DeploymentError says what is wrong with it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DeploymentError(f"not a readable zip file: {exc}", key="zip.unreadable") from None
    if len(entries) > ZIP_ENTRIES_MAX:
        raise DeploymentError(f"the zip has {len(entries)} entries; at most {ZIP_ENTRIES_MAX}", key="zip.too_many",
                              params={"count": len(entries), "limit": ZIP_ENTRIES_MAX})
    files: list[tuple[str, bytes]] = []
    budget = ZIP_TOTAL_MAX
    for entry in entries:
        name = safe_name(entry.filename)
        if entry.is_dir() or name.startswith("__MACOSX/") or PurePosixPath(name).name.startswith("._"):
            continue
        if entry.flag_bits & 0x1:
            raise DeploymentError(f"zip entry {name!r} is encrypted; zip the files without a password",
                                  key="zip.encrypted", params={"name": name})
        content = _read_capped(archive, entry, budget)
        budget -= len(content)
        files.append((name, content))
    return files


def safe_name(name: str) -> str:
    """An entry's name as a relative path; refused when absolute or climbing out of the zip."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DeploymentError(f"zip entry {name!r} points outside the zip; use plain relative names",
                              key="zip.outside", params={"name": name})
    return str(path)


def _read_capped(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, budget: int) -> bytes:
    out = bytearray()
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(CHUNK):
                out += chunk
                if len(out) > budget:
                    raise DeploymentError(f"the zip unpacks to more than {ZIP_TOTAL_MAX} bytes", key="zip.too_large",
                                          params={"limit": ZIP_TOTAL_MAX})
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise DeploymentError(f"zip entry {entry.filename!r} cannot be read: {exc}", key="zip.entry_unreadable",
                              params={"name": entry.filename}) from None
    return bytes(out)


def path_files(paths: list[Path]) -> list[tuple[str, bytes]]:
    """`tourflow deploy` arguments as one set: each .bpmn (folders: every .bpmn below, sorted) by
    its path, with the forms in `forms/<process id>/` beside it as `forms/<process id>/<name>`;
    a .zip's files by their names inside it."""
    files: list[tuple[str, bytes]] = []
    for path in paths:
        if is_zip_name(path.name) and path.is_file():
            files += read_zip(path.read_bytes())
            continue
        for bpmn in sorted(path.rglob("*.bpmn")) if path.is_dir() else [path]:
            data = read_bytes(bpmn)
            files.append((str(bpmn), data))
            for name, form in _forms_of(bpmn, data):
                if name not in dict(files):
                    files.append((name, form.read_bytes()))
    return files


def _forms_of(bpmn: Path, data: bytes) -> list[tuple[str, Path]]:
    """The form files of a .bpmn on disk, each named `forms/<process id>/<name>`: those in
    `forms/<process id>/` beside it, else (SpiffArena's layout) those beside the file itself."""
    try:
        ids = process_ids(data, bpmn.name)
    except BpmnReadError:
        return []  # lint says why the file is unreadable
    return [(f"forms/{process_id}/{form.name}", form) for process_id in ids
            for form in sorted(forms_folder(bpmn.parent, process_id).iterdir())
            if is_form_name(form.name) and form.is_file()]
