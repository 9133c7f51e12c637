"""Errors raised while reading, checking or compiling a definition pack."""


class PackError(Exception):
    """Base class: a definition pack cannot be used."""


class PackNotFoundError(PackError, FileNotFoundError):
    """No pack of that name or folder exists."""


class NoPackChosenError(PackError):
    """Records need grouping and no pack was named (``--pack``) nor set as the default."""


class PackFormatError(PackError, ValueError):
    """A pack file is malformed; the message names the file and, where known, the line."""


class PackIntegrityError(PackError):
    """A source file no longer matches the SHA-256 recorded in the pack's manifest."""


class PackCompileError(PackError, ValueError):
    """The rules cannot be compiled (unknown set, malformed decision table)."""
