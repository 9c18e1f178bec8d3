"""The one error tree of PaperBridge.

It lives in the lowest layer (``ingest``) so that every layer above can raise and catch
it without importing upwards. Library code raises these; only the CLI and the UI turn
them into messages. Every message names the file or setting and says what to do next.
"""

from __future__ import annotations


class PaperBridgeError(Exception):
    """Root of every error PaperBridge raises on purpose."""


# --- ingestion: one file could not be turned into passages -------------------------
class IngestError(PaperBridgeError):
    """A file could not be read into passages; the rest of a batch goes on."""


class UnsupportedFileError(IngestError):
    """The file type is not one PaperBridge reads (PDF, .txt, .md)."""


class EmptyDocumentError(IngestError):
    """The file holds no text at all."""


class EncryptedPDFError(IngestError):
    """The PDF needs a user password that was not given or was wrong."""


class CorruptFileError(IngestError):
    """The file is damaged beyond what the readers can recover."""


class NoTextLayerError(IngestError):
    """A scanned PDF: images only, it needs OCR before PaperBridge can read it."""


class DecodeError(IngestError):
    """A text file whose bytes are not text in any encoding we can detect."""


# --- the library on disk --------------------------------------------------------------
class LibraryError(PaperBridgeError):
    """The library folder cannot be used as asked."""


class LibraryNotFoundError(LibraryError):
    """No library exists at the given folder yet."""


class LibraryFormatError(LibraryError):
    """The manifest is missing, unreadable, or from an incompatible version."""


class LibraryDamagedError(LibraryError):
    """A library file is missing, truncated or altered: refused rather than answered from."""


class ModelMismatchError(LibraryError):
    """The library was embedded with another model than the one configured now."""


class LibraryLockedError(LibraryError):
    """Another process is writing to the library."""


class DocumentNotFoundError(LibraryError):
    """A document id or title named by the user is not in the library."""


class ModelError(PaperBridgeError):
    """An embedding model could not be built or loaded."""


# --- questions and answers -----------------------------------------------------------
class QuestionError(PaperBridgeError):
    """The question itself cannot be asked (empty, too long)."""


class BatchInputError(PaperBridgeError):
    """A batch or evaluation input file (or one of its lines) is malformed."""
