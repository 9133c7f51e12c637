"""Pack manifests: what a pack is, where it came from, and the checksum of every source file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from icd_tables.errors import PackFormatError, PackIntegrityError

MANIFEST = "manifest.json"
FORMAT_DRGPACK = "drgpack/1"
FORMAT_CHS1X = "chs-drg-rules/1"
FORMAT_CHS_REGIONAL = "chs-drg-rules/2"
FORMATS = (FORMAT_DRGPACK, FORMAT_CHS1X, FORMAT_CHS_REGIONAL)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """Identity of a definition pack.

    Attributes
    ----------
    format : str
        ``drgpack/1`` (this project's folder format), ``chs-drg-rules/1``
        (the national 1.x ``rules.json`` with its ``.dat`` tables) or
        ``chs-drg-rules/2`` (a regional variant in the same layout).
    name : str
        Short name users type, e.g. ``chs-drg-1.1``.
    scheme, version, region, source, description : str
        Scheme (``CHS-DRG``), its version (``1.1``), pooling region (``全国``
        for national tables), where the tables came from, free text.
    files : dict
        Relative path → SHA-256 of every source file the pack is built from.
    """

    format: str
    name: str
    scheme: str
    version: str
    region: str
    source: str
    description: str = ""
    files: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """SHA-256 over the sorted (path, checksum) pairs: the pack's content identity."""
        h = hashlib.sha256()
        for rel, sha in sorted(self.files.items()):
            h.update(f"{rel}\t{sha}\n".encode())
        return h.hexdigest()

    @property
    def label(self) -> str:
        """``name@digest`` as recorded in every result (``pack_version``)."""
        return f"{self.name}@{self.digest[:12]}"

    def verify(self, folder: Path) -> None:
        """Check every source file against its recorded SHA-256.

        Raises
        ------
        PackIntegrityError
            Naming the first file that is missing or has changed.
        """
        for rel, expected in sorted(self.files.items()):
            path = folder / rel
            if not path.is_file():
                raise PackIntegrityError(f"pack {self.name}: source file {rel} is missing from {folder}")
            found = sha256_file(path)
            if found != expected:
                raise PackIntegrityError(
                    f"pack {self.name}: {rel} has changed since the manifest was written "
                    f"(expected sha256 {expected[:16]}…, found {found[:16]}…). Restore the file, "
                    f"or re-import the pack with 'drg packs import'."
                )

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(
            json.dumps(asdict(self), indent=2, ensure_ascii=False, sort_keys=False) + "\n",
            encoding="utf-8",
        )

    def resealed(self, folder: Path, files: list[str] | None = None) -> "Manifest":
        """A copy whose checksums are those of the files now in ``folder``."""
        names = files if files is not None else list(self.files)
        return Manifest(**{**asdict(self), "files": {rel: sha256_file(folder / rel) for rel in sorted(names)}})

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise PackFormatError(f"{path}: not a valid pack manifest ({exc})") from exc
        if manifest.format not in FORMATS:
            raise PackFormatError(f"{path}: unknown pack format {manifest.format!r}; known: {', '.join(FORMATS)}")
        return manifest
