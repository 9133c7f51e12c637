"""Definition packs: manifests, checksums, compiled cache, import, and the drgpack format."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from reference_data import VERSIONS_1X
from icd_tables.chs1x import load_chs1x
from icd_tables.compiled import CompiledPack
from icd_tables.compiler import compile_definition
from icd_tables.drgpack import load_drgpack, write_drgpack
from icd_tables.errors import PackIntegrityError, PackNotFoundError
from icd_tables.manifest import Manifest
from icd_tables.pack import BUNDLED_DIR, EXAMPLE_PACK, Pack, available_packs, cache_dir, import_pack


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("DRG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DRG_PACKS_DIR", str(tmp_path / "packs"))


@pytest.fixture
def example_copy(tmp_path):
    folder = tmp_path / "example"
    shutil.copytree(BUNDLED_DIR / EXAMPLE_PACK, folder)
    return folder


def test_bundled_pack_loads_and_records_its_version():
    pack = Pack.load()
    assert pack.manifest.name == EXAMPLE_PACK
    assert pack.version == f"{EXAMPLE_PACK}@{pack.manifest.digest[:12]}"
    assert "example" in pack.manifest.description.lower() or "示例" in pack.manifest.description
    assert EXAMPLE_PACK in available_packs()


def test_compiled_form_is_cached_outside_the_package(tmp_path):
    Pack.load()
    compiled = list(cache_dir().glob(f"{EXAMPLE_PACK}-*/compiled.json"))
    assert len(compiled) == 1
    assert tmp_path in compiled[0].parents
    assert not any(BUNDLED_DIR.rglob("*.npy"))


def test_cached_and_fresh_compilations_are_identical():
    first = Pack.load()
    cached = Pack.load()
    fresh = compile_definition(load_drgpack(first.folder))
    assert cached.compiled.checksums() == fresh.checksums() == first.compiled.checksums()


def test_changed_source_file_is_detected(example_copy):
    Pack.load(example_copy)
    with open(example_copy / "dx.tsv", "a", encoding="utf-8") as f:
        f.write("Z99.999\t篡改\n")
    with pytest.raises(PackIntegrityError, match="dx.tsv has changed"):
        Pack.load(example_copy)


def test_resealed_change_gets_a_new_digest_and_is_recompiled(example_copy):
    before = Pack.load(example_copy)
    with open(example_copy / "dx_map.tsv", "a", encoding="utf-8") as f:
        f.write("R50.901\tR50.900\n")
    Manifest.read(example_copy).resealed(example_copy).write(example_copy)
    after = Pack.load(example_copy)
    assert after.manifest.digest != before.manifest.digest
    assert "R50.901" in after.compiled.dx_inputs.to_pylist()
    assert "R50.901" not in before.compiled.dx_inputs.to_pylist()


def test_corrupt_cache_is_rebuilt():
    pack = Pack.load()
    folder = next(cache_dir().glob(f"{EXAMPLE_PACK}-*"))
    (folder / "compiled.json").write_text("{broken", encoding="utf-8")
    assert Pack.load().compiled.checksums() == pack.compiled.checksums()


def test_unknown_pack_names_the_known_ones():
    with pytest.raises(PackNotFoundError, match=EXAMPLE_PACK):
        Pack.load("no-such-pack")


def test_saved_arrays_are_byte_identical(tmp_path):
    compiled = compile_definition(load_drgpack(BUNDLED_DIR / EXAMPLE_PACK))
    compiled.save(tmp_path / "a", {})
    compile_definition(load_drgpack(BUNDLED_DIR / EXAMPLE_PACK)).save(tmp_path / "b", {})
    files = sorted(p.name for p in (tmp_path / "a").glob("*.npy"))
    assert files and files == sorted(p.name for p in (tmp_path / "b").glob("*.npy"))
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    loaded = CompiledPack.load(tmp_path / "a")
    assert loaded.checksums() == compiled.checksums()
    for name, value in compiled.arrays().items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(getattr(loaded, name), value)
        else:
            assert getattr(loaded, name).to_pylist() == value.to_pylist()


@pytest.mark.golden
@pytest.mark.parametrize("version", VERSIONS_1X)
def test_national_rebuild_is_byte_identical(tables_dir, version):
    a = compile_definition(load_chs1x(tables_dir / version))
    b = compile_definition(load_chs1x(tables_dir / version))
    assert a.checksums() == b.checksums()


@pytest.mark.golden
def test_national_table_change_is_detected(tables_dir, tmp_path):
    folder = tmp_path / "chs-drg-1.1"
    shutil.copytree(tables_dir / "chs-drg-1.1", folder)
    (folder / "DATA" / "MCC.dat").chmod(0o644)
    with open(folder / "DATA" / "MCC.dat", "a", encoding="utf-8") as f:
        f.write("\nZ99.999 1")
    with pytest.raises(PackIntegrityError, match="MCC.dat"):
        Pack.load(folder)


@pytest.mark.golden
@pytest.mark.parametrize("version", VERSIONS_1X)
def test_drgpack_format_carries_a_national_scheme_completely(tables_dir, tmp_path, version):
    """1.x tables → drgpack/1 TSV files → the same compiled arrays."""
    defn = load_chs1x(tables_dir / version)
    write_drgpack(defn, tmp_path / "pack")
    again = load_drgpack(tmp_path / "pack")
    assert again.rows == defn.rows
    assert compile_definition(again).checksums() == compile_definition(defn).checksums()


@pytest.mark.golden
def test_import_copies_sources_with_a_manifest(tables_dir):
    target = import_pack(tables_dir / "chs-drg-1.1", region="黑龙江 (test)")
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "chs-drg-rules/1"
    assert manifest["region"] == "黑龙江 (test)"
    assert set(manifest["files"]) >= {"rules.json", "DATA/MCC.dat", "ICD/ZD_MAP.dat"}
    assert "chs-drg-1.1" in available_packs()
    in_place, imported = Pack.load(tables_dir / "chs-drg-1.1"), Pack.load("chs-drg-1.1")
    assert imported.version == in_place.version
    assert imported.compiled.checksums() == in_place.compiled.checksums()
    with pytest.raises(Exception, match="already exists"):
        import_pack(tables_dir / "chs-drg-1.1")
