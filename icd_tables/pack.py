"""Definition packs: find, verify, compile (cached) and load.

A pack is a folder holding its source tables and a manifest.  It may be

* a ``drgpack/1`` folder (this project's format, see :mod:`icd_tables.drgpack`);
* a folder of CHS-DRG 1.x tables (``rules.json`` + ``.dat`` files), national
  (``chs-drg-rules/1``) or regional (``chs-drg-rules/2``, e.g. ``haerbin-2022``),
  used in place: its manifest is derived from ``rules.json`` and the files'
  checksums, and the tables' SHA-256 values listed in ``rules.json`` are verified;
* a pack imported with :func:`import_pack` into the user's pack folder.

Compiled arrays are cached per content digest under the user cache folder
(``DRG_CACHE_DIR`` overrides), never inside the installed package; a changed
source file changes the digest, so the pack is recompiled.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import platformdirs

from icd_tables.chs1x import chs1x_rules, load_chs1x, source_files
from icd_tables.compiled import FORMAT_VERSION, CompiledPack, read_meta
from icd_tables.compiler import compile_definition
from icd_tables.definition import SchemeDefinition
from icd_tables.drgpack import load_drgpack
from icd_tables.errors import NoPackChosenError, PackError, PackIntegrityError, PackNotFoundError
from icd_tables.manifest import FORMAT_CHS1X, FORMAT_DRGPACK, MANIFEST, Manifest, sha256_file
from icd_tables.regions import NATIONAL

#: Bumped whenever the compiler's output changes meaning, so old caches are not reused.
COMPILER_VERSION = f"{FORMAT_VERSION}.0"
BUNDLED_DIR = Path(__file__).parent / "packs"
#: The bundled example pack: the demo's and the quick start's, never a silent default.
EXAMPLE_PACK = "example-mini"
#: Environment variable naming the default pack (``drg packs default NAME`` stores one instead).
PACK_ENV = "DRG_PACK"


def cache_dir() -> Path:
    """Folder of compiled packs: ``$DRG_CACHE_DIR`` or the user cache folder."""
    return Path(os.environ.get("DRG_CACHE_DIR") or platformdirs.user_cache_dir("drg-engine")) / "packs"


def user_packs_dir() -> Path:
    """Folder of imported packs: ``$DRG_PACKS_DIR`` or the user data folder."""
    return Path(os.environ.get("DRG_PACKS_DIR") or platformdirs.user_data_dir("drg-engine")) / "packs"


def _derived_chs1x_manifest(folder: Path, rules: dict) -> Manifest:
    files = {rel: sha256_file(folder / rel) for rel in source_files(rules)}
    for rel, expected in rules.get("sha256", {}).items():
        if files.get(rel) != expected:
            raise PackIntegrityError(
                f"{folder / rel}: SHA-256 differs from the one rules.json was built with "
                f"(expected {expected[:16]}…, found {str(files.get(rel))[:16]}…); "
                "the rules and the tables do not belong together"
            )
    name = rules["pack"]
    regional = rules["schema"] != FORMAT_CHS1X
    return Manifest(
        format=rules["schema"],
        name=name,
        scheme="CHS-DRG",
        version=name.rsplit("-", 1)[-1],
        region=name.rsplit("-", 1)[0] if regional else NATIONAL,
        source=str(folder),
        description=rules.get("description", ""),
        files=files,
    )


def read_manifest(folder: Path) -> Manifest:
    """The manifest of a pack folder, verified against the files.

    Raises
    ------
    PackNotFoundError
        When the folder is neither a pack nor a 1.x table folder.
    PackIntegrityError
        When a source file no longer matches its checksum.
    """
    if (folder / MANIFEST).is_file():
        manifest = Manifest.read(folder)
        manifest.verify(folder)
        return manifest
    rules = chs1x_rules(folder)
    if rules is not None:
        return _derived_chs1x_manifest(folder, rules)
    raise PackNotFoundError(
        f"{folder} is not a definition pack: it has neither {MANIFEST} nor a CHS-DRG 1.x rules.json"
    )


def load_definition(folder: Path, manifest: Manifest) -> SchemeDefinition:
    """Parse a pack's source files into a :class:`SchemeDefinition`."""
    if manifest.format == FORMAT_DRGPACK:
        return load_drgpack(folder)
    return load_chs1x(folder)


def default_pack_file() -> Path:
    """The file ``drg packs default NAME`` writes: ``$DRG_CONFIG_DIR/default-pack`` or the user config folder."""
    base = os.environ.get("DRG_CONFIG_DIR") or platformdirs.user_config_dir("drg-engine")
    return Path(base) / "default-pack"


def configured_pack() -> tuple[str, str] | None:
    """The default pack the user chose, and where: ``$DRG_PACK``, else ``drg packs default``; None if neither."""
    named = os.environ.get(PACK_ENV, "").strip()
    if named:
        return named, f"${PACK_ENV}"
    path = default_pack_file()
    if path.is_file():
        named = path.read_text(encoding="utf-8").strip()
        if named:
            return named, "drg packs default"
    return None


def choose_pack(given: str | os.PathLike | None) -> str | os.PathLike:
    """The pack to group with: ``given``, else the configured default.

    Raises
    ------
    NoPackChosenError
        Neither given nor configured; the message names the installed packs and how to choose.
    """
    if given:
        return given
    configured = configured_pack()
    if configured is not None:
        return configured[0]
    names = ", ".join(sorted(available_packs())) or "none"
    raise NoPackChosenError(
        "no pack chosen: give --pack NAME, or set a default once with 'drg packs default NAME' "
        f"(or ${PACK_ENV}=NAME). 未指定分组方案：请用 --pack 指定，或用 drg packs default 设置默认方案。"
        f" Installed packs: {names} (the bundled {EXAMPLE_PACK} is an example for the demo, not a real scheme;"
        " import a real one with 'drg packs import FOLDER')"
    )


def available_packs() -> dict[str, Path]:
    """Name → folder of every bundled and imported pack (imported ones win)."""
    found: dict[str, Path] = {}
    for root in (BUNDLED_DIR, user_packs_dir()):
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / MANIFEST).is_file():
                    found[folder.name] = folder
    return found


def resolve(name_or_path: str | os.PathLike) -> Path:
    """Folder of a pack given by folder path or by name.

    Raises
    ------
    PackNotFoundError
        Listing the pack names that do exist.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path.resolve()
    packs = available_packs()
    if str(name_or_path) in packs:
        return packs[str(name_or_path)]
    known = ", ".join(sorted(packs)) or "none"
    raise PackNotFoundError(
        f"no pack named or at {str(name_or_path)!r}. Known packs: {known}. "
        "Give a pack folder, or import one with 'drg packs import FOLDER'."
    )


@dataclass(frozen=True)
class Pack:
    """A loaded definition pack: its manifest and compiled arrays.

    Use :meth:`Pack.load`; the compiled arrays are read from the cache, or
    compiled and cached on first use.
    """

    folder: Path
    manifest: Manifest
    compiled: CompiledPack

    @property
    def version(self) -> str:
        """``name@digest`` recorded in every result as ``pack_version``."""
        return self.manifest.label

    @cached_property
    def definition(self) -> SchemeDefinition:
        """The parsed source tables (slow: only for explanation and export)."""
        return load_definition(self.folder, self.manifest)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike | None = None, *, rebuild: bool = False) -> "Pack":
        """Load a pack by name or folder.

        Parameters
        ----------
        name_or_path : str or path-like
            A pack name (``drg packs list``) or a pack folder; default the pack the
            user configured (:func:`choose_pack`).
        rebuild : bool
            Recompile even when a cached compiled form exists.

        Raises
        ------
        PackError
            Not found, a changed source file, or malformed tables.
        """
        folder = resolve(choose_pack(name_or_path))
        manifest = read_manifest(folder)
        target = cache_dir() / f"{manifest.name}-{manifest.digest[:16]}-c{COMPILER_VERSION}"
        meta = read_meta(target)
        if rebuild or meta is None or meta.get("digest") != manifest.digest:
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            compiled = compile_definition(load_definition(folder, manifest))
            compiled.save(target, {"pack": manifest.name, "digest": manifest.digest,
                                   "compiler": COMPILER_VERSION})
            return cls(folder, manifest, compiled)
        return cls(folder, manifest, CompiledPack.load(target))


def import_pack(source: str | os.PathLike, name: str | None = None, *, region: str | None = None,
                force: bool = False) -> Path:
    """Copy a pack (or a folder of 1.x tables) into the user's pack folder with a manifest.

    Parameters
    ----------
    source : path-like
        A pack folder or a CHS-DRG 1.x table folder.
    name : str, optional
        Name to register it under; default the pack's own name.
    region : str, optional
        Pooling region recorded in the manifest.
    force : bool
        Replace an existing pack of that name.

    Returns
    -------
    Path
        The imported pack's folder.
    """
    folder = Path(source).expanduser().resolve()
    if not folder.is_dir():
        raise PackNotFoundError(f"{folder} is not a folder")
    manifest = read_manifest(folder)
    compile_definition(load_definition(folder, manifest))  # refuse packs that do not compile
    fields = dict(manifest.__dict__)
    fields.update(name=name or manifest.name, source=manifest.source or str(folder))
    if region:
        fields["region"] = region
    new = Manifest(**fields)
    target = user_packs_dir() / new.name
    if target.exists() and not force:
        try:
            if read_manifest(target) == new:
                return target  # the same pack again: nothing to do
        except PackError:
            pass
        raise PackError(f"a pack named {new.name!r} already exists at {target}; use --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        for rel in new.files:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / rel, tmp / rel)
        new.write(tmp)
        new.verify(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


__all__ = ["Pack", "available_packs", "cache_dir", "import_pack", "read_manifest", "resolve",
           "user_packs_dir", "PackError"]
