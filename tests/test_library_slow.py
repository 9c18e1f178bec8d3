"""End to end with the real default encoders: the sample corpus and ../shared/pdfs from scratch."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperbridge import index
from paperbridge.index import Encoder, IndexConfig, Library
from paperbridge.ingest import find_files
from tests.conftest import SAMPLE
from tests.test_library import check_consistent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def default_encoders() -> list[Encoder]:
    """The default models, loaded once per session."""
    load = getattr(index, "load_encoder", None)
    if load is None:
        pytest.skip("index.load_encoder is not there yet (the encoder engineer builds it)")
    return [load(spec) for spec in IndexConfig().encoders]


def test_sample_corpus_and_shared_pdfs_index_from_scratch(
    tmp_path: Path, shared_pdfs: Path, default_encoders: list[Encoder]
) -> None:
    lib = Library.open(tmp_path / "lib", create=True, encoders=default_encoders)
    report = lib.add([SAMPLE, shared_pdfs], password="openpassword")
    failed = {Path(p).name for p, _ in report.failed}
    assert failed == {"en_scanned_no_text_layer_175.pdf", "zh_elegantpaper-cn_TRUNCATED_60pct.pdf"}
    titles = {d.title for d in lib.documents()}
    assert "日本科技创新体系发展特征及对中国启示" in titles
    assert any(t.startswith("ElegantPaper: 一个优美的") for t in titles)
    assert report.embedded == len(lib) > 150
    check_consistent(lib)
    cn = next(d.doc_id for d in lib.documents() if d.title.startswith("ElegantPaper: 一个优美的"))
    for encoder in default_encoders:
        # An English question must find the Chinese paper among Chinese-script passages.
        q = encoder.encode_queries(["How do I compile the ElegantPaper LaTeX template?"])[0]
        hits = lib.dense_search(encoder.name, q, 5, lang="mixed")
        assert cn in {p.doc_id for p in lib.passages([i for i, _ in hits])}, encoder.name
        q = encoder.encode_queries(["日本企业的研发投入强度是多少？"])[0]
        top = lib.passages([i for i, _ in lib.dense_search(encoder.name, q, 3, lang="zh")])
        assert any("研发" in p.text for p in top), encoder.name
    again = lib.add([SAMPLE])
    assert again.embedded == 0 and len(again.skipped) == len(find_files([SAMPLE]))
