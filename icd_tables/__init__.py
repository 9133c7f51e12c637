"""Codes and definition packs: record schema, rule language, pack formats, compiler, cache."""
