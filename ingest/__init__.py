"""Ingestion: PDF, .txt and .md files into clean, citable passages (English and Chinese)."""

from paperbridge.ingest.config import IngestConfig
from paperbridge.ingest.document import ANSWER_KINDS, PASSAGE_KINDS, Document, ExtractionReport, Passage
from paperbridge.ingest.language import detect_language
from paperbridge.ingest.reader import SAMPLE_CORPUS, find_files, read_document
from paperbridge.ingest.sentences import count_tokens, split_sentences

__all__ = [
    "ANSWER_KINDS",
    "PASSAGE_KINDS",
    "SAMPLE_CORPUS",
    "Document",
    "ExtractionReport",
    "IngestConfig",
    "Passage",
    "count_tokens",
    "detect_language",
    "find_files",
    "read_document",
    "split_sentences",
]
