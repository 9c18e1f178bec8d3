"""Ingestion: PDF, .txt and .md files into clean, citable passages (English and Chinese)."""

from ingest.config import IngestConfig
from ingest.document import Document, Passage
from ingest.language import detect_language
from ingest.reader import SAMPLE_CORPUS, find_files, read_document
from ingest.sentences import count_tokens, split_sentences

__all__ = [
    "SAMPLE_CORPUS",
    "Document",
    "IngestConfig",
    "Passage",
    "count_tokens",
    "detect_language",
    "find_files",
    "read_document",
    "split_sentences",
]
