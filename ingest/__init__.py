"""Ingestion: PDF, .txt and .md files into clean, citable passages (English and Chinese)."""

from paperbridge.ingest.config import IngestConfig
from paperbridge.ingest.document import Document, Passage
from paperbridge.ingest.language import detect_language
from paperbridge.ingest.reader import SAMPLE_CORPUS, find_files, read_document
from paperbridge.ingest.sentences import count_tokens, split_sentences

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
