"""PDFs from ../shared/pdfs: reconstruction, garbled pages and every kind of bad input."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner

from paperbridge.cli import main
from paperbridge.ingest import read_document
from paperbridge.ingest.errors import CorruptFileError, EncryptedPDFError, NoTextLayerError
from tests.conftest import SHARED

CJK_SPACE_CJK = re.compile(r"[\u4e00-\u9fff][ \t]+[\u4e00-\u9fff]")


def _texts(path: Path) -> list[str]:
    return [p.text for p in read_document(path).passages]


def test_gbk_font_without_tounicode_reads_as_chinese(shared_pdfs: Path) -> None:
    document = read_document(shared_pdfs / "zh_XiaoBiaoSong_gbk_no_tounicode.pdf")
    texts = [p.text for p in document.passages]
    assert any(t.startswith("关于红军作战的原则") for t in texts)
    assert not any(ch in "".join(texts) for ch in "Ä¿¡Â¼")
    assert not CJK_SPACE_CJK.search("".join(texts))
    assert document.lang == "zh" and not document.warnings


def test_broken_cmap_is_flagged_not_indexed(shared_pdfs: Path) -> None:
    document = read_document(shared_pdfs / "zh_garbled_issue_566_test_1.pdf")
    assert document.passages == ()
    assert len(document.warnings) == 1
    assert (
        "garbled" in document.warnings[0]
        and "zh_garbled_issue_566_test_1.pdf" in document.warnings[0]
    )


def test_chinese_paper_lines_are_joined_without_spaces(shared_pdfs: Path) -> None:
    document = read_document(shared_pdfs / "zh_elegantpaper-cn.pdf")
    texts = [p.text for p in document.passages]
    assert document.title.startswith("ElegantPaper")
    assert any("专为工作论文写作而设计。" in t for t in texts)  # "写作而设\n计" in pypdf
    assert not CJK_SPACE_CJK.search("\n".join(texts))
    for passage in document.passages:
        assert document.page_texts[passage.page - 1][passage.start : passage.end] == passage.text
    assert {p.page for p in document.passages} >= {1, 2, 3}


def test_advice_before_a_listing_is_body_and_the_listing_code(shared_pdfs: Path) -> None:
    """pypdf leaves no blank line between "……表 1 是一个示例：" and \\begin{table}: the sentences
    before the listing answer questions, the listing does not."""
    document = read_document(shared_pdfs / "zh_elegantpaper-cn.pdf")
    advice = [p for p in document.passages if p.text.startswith("建议使用 booktabs 宏包制作表格")]
    assert [p.kind for p in advice] == ["body"] and advice[0].text.endswith("表 1 是一个示例：")
    assert "\\begin" not in advice[0].text
    listing = [p for p in document.passages if p.text.startswith("\\begin { table }")]
    assert [p.kind for p in listing] == ["code"]
    for passage in advice + listing:
        assert document.page_texts[passage.page - 1][passage.start : passage.end] == passage.text


def test_title_and_authors_from_the_first_page(shared_pdfs: Path) -> None:
    """A section name set large ("Abstract") is no title, a title with a lower-case "with"
    is no byline, and a Chinese author alone under the title (邓东升) is an author."""
    multicolumn = read_document(shared_pdfs / "en_latex_multicolumn.pdf")
    assert multicolumn.title == "Two-Column Document with Lorem Ipsum"
    assert read_document(shared_pdfs / "zh_elegantpaper-cn.pdf").authors == ("邓东升",)


def test_authors_under_a_dropped_running_head() -> None:
    """The Shared MIME-info spec repeats its title as a running head, which the reader
    drops; a sentence that mentions the title is not the title line."""
    from paperbridge.ingest.bibliography import choose_authors

    lines = ["X Desktop Group (http://www.freedesktop.org)", "Thomas Leonard", "tal197 at users.sf.net",
             "1. Introduction", "1.1. Version",
             "This is version 0.21 of the Shared MIME-info Database specification, last updated "
             "2 October 2018."]
    assert "Thomas Leonard" in choose_authors(None, lines, "Shared MIME-info Database")
    for word in ("张量", "高性能", "方法论"):  # words under a title, not names
        assert choose_authors(None, ["数据手册", word, "摘要"], "数据手册") == ()


def test_a_named_index_in_the_last_pages_is_an_index() -> None:
    """A manual's "Concept Index" page (libtasn1: "asn1Parser program 5") lists the topics
    with page numbers; it is no answer. Early in a document, "Price Index" is a section."""
    from paperbridge.ingest.structure import _back_index

    assert _back_index("Concept Index", 34, 36) == "index"
    assert _back_index("Function and Data Index", 35, 36) == "index"
    assert _back_index("术语索引", 40, 50) == "index"
    assert _back_index("Consumer Price Index", 3, 36) is None
    assert _back_index("How we built the index", 34, 36) is None


def test_a_notice_is_boilerplate_but_a_paragraph_using_its_words_is_not() -> None:
    """Notices stay out of answers; a GDPR definition ("未经同意而被公开") and a guide's
    "此篇安装教程仅供参考" inside a paragraph were dropped as boilerplate."""
    from paperbridge.ingest.structure import is_notice

    assert is_notice("Copyright ©2003–2009 CTEX and all the Contributors. All rights reserved.")
    assert is_notice("版权所有，未经许可不得转载。")
    assert is_notice("未经作者书面许可，不得以任何形式复制本书内容。")
    assert is_notice("本资料仅供学习交流使用，请勿用于商业用途。")
    assert not is_notice("(12)“个人数据泄露”是指由于违反安全政策而导致传输、储存、处理中的个人数据"
                         "被意外或非法损毁、丢失、更改或未经同意而被公开或访问。")
    assert not is_notice("目前微软推出了 Windows Subsystem for Linux (WSL) 供开发人员使用. 在这里简要介绍"
                         "如何在 WSL 中安装 TEX Live. 我选择的是微软商店中的 Ubuntu. 此篇安装教程仅供参考.")


def test_ligatures_and_hyphenation_are_undone(shared_pdfs: Path) -> None:
    multicolumn = "\n".join(_texts(shared_pdfs / "en_latex_multicolumn.pdf"))
    assert "two columns filled with Lorem Ipsum" in multicolumn
    assert "adipiscing elit" in multicolumn and "adip-" not in multicolumn
    assert "\ufb01" not in multicolumn
    english = "\n".join(_texts(shared_pdfs / "en_elegantpaper-en.pdf"))
    assert "\ufb01" not in english


def test_contract_line_reads_right(shared_pdfs: Path) -> None:
    assert _texts(shared_pdfs / "zh_contract_issue_566_test_2.pdf") == [
        "甲方：中国饮料有限公司（盖章）"
    ]


def test_encrypted_pdf_needs_its_password(shared_pdfs: Path) -> None:
    path = shared_pdfs / "en_encrypted_user_password.pdf"
    with pytest.raises(EncryptedPDFError, match="en_encrypted_user_password.pdf.*--password"):
        read_document(path)
    with pytest.raises(EncryptedPDFError, match="did not open with the password"):
        read_document(path, password="wrong")
    document = read_document(path, password="openpassword")
    assert document.passages and document.kind == "pdf"


def test_truncated_pdf_is_reported_as_corrupt(shared_pdfs: Path) -> None:
    with pytest.raises(CorruptFileError, match="zh_elegantpaper-cn_TRUNCATED_60pct.pdf.*again"):
        read_document(shared_pdfs / "zh_elegantpaper-cn_TRUNCATED_60pct.pdf")


def test_recoverable_corruption_is_read(shared_pdfs: Path) -> None:
    texts = _texts(shared_pdfs / "en_corrupted_recoverable_zen_of_python.pdf")
    assert "Beautiful is better than ugly." in texts


def test_scanned_pdf_needs_ocr(shared_pdfs: Path) -> None:
    with pytest.raises(NoTextLayerError, match="en_scanned_no_text_layer_175.pdf.*OCR"):
        read_document(shared_pdfs / "en_scanned_no_text_layer_175.pdf")


def test_binary_file_named_pdf_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(b"\x00\x01 not a pdf at all" * 20)
    with pytest.raises(CorruptFileError, match="fake.pdf"):
        read_document(path)


def test_passages_command_goes_on_after_failures(shared_pdfs: Path, tmp_path: Path) -> None:
    for name in (
        "zh_contract_issue_566_test_2.pdf",
        "en_scanned_no_text_layer_175.pdf",
        "zh_garbled_issue_566_test_1.pdf",
        "en_encrypted_user_password.pdf",
    ):
        shutil.copy(shared_pdfs / name, tmp_path / name)
    result = CliRunner().invoke(main, ["passages", str(tmp_path)])
    assert result.exit_code == 1
    assert "甲方：中国饮料有限公司（盖章）" in result.stdout
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3
    assert any("en_scanned_no_text_layer_175.pdf" in e and "OCR" in e for e in errors)
    assert any("en_encrypted_user_password.pdf" in e and "--password" in e for e in errors)
    assert any(e.startswith("warning:") and "garbled" in e for e in errors)
    ok = CliRunner().invoke(
        main,
        [
            "passages",
            str(tmp_path / "en_encrypted_user_password.pdf"),
            "--password",
            "openpassword",
        ],
    )
    assert ok.exit_code == 0 and '"page": 1' in ok.stdout


def test_passages_stats_says_what_ingestion_did(shared_pdfs: Path) -> None:
    result = CliRunner().invoke(main, ["passages", "--stats", str(shared_pdfs / "zh_elegantpaper-cn.pdf"),
                                       str(shared_pdfs / "zh_garbled_issue_566_test_1.pdf")])
    assert result.exit_code == 0
    out = result.stdout
    assert "zh_elegantpaper-cn.pdf: ElegantPaper" in out and "pages: 5" in out
    assert re.search(r"read by: (pdfium|pypdf) 1", out) and "passages: " in out and "body " in out
    assert "zh_garbled_issue_566_test_1.pdf" in out and "dropped: garbled 1" in out
    assert '"text"' not in out  # stats instead of the passages


def test_a_page_only_one_reader_can_load_keeps_every_other_page_in_place(
    shared_pdfs: Path, tmp_path: Path
) -> None:
    """A damaged page tree: pdfium cannot load page 2 and pypdf skips it (4 pages, not 5).

    Pairing the readers' pages by index would then put page 3's text on page 2; the reader
    that sees every page must be used, page numbers intact.
    """
    writer = pypdf.PdfWriter()
    for page in pypdf.PdfReader(shared_pdfs / "en_elegantpaper-en.pdf").pages:
        writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    data = buffer.getvalue()
    second = list(re.finditer(rb"/Type /Page\b(?!s)", data))[1]
    broken = tmp_path / "broken_page_2.pdf"
    broken.write_bytes(data[: second.start()] + b"/Type /Pagx" + data[second.end() :])
    assert len(pypdf.PdfReader(broken).pages) == 4
    doc = read_document(broken)
    assert doc.pages == 5
    assert sorted({p.page for p in doc.passages}) == [1, 3, 4, 5]
    assert any("page(s) 2" in w for w in doc.warnings)
    original = read_document(shared_pdfs / "en_elegantpaper-en.pdf")
    marker = "Table 1: Auto MPG and Price"  # on page 3 of the file
    assert marker in original.page_texts[2] and marker in doc.page_texts[2]


def test_a_list_is_one_passage_with_the_line_that_leads_into_it() -> None:
    path = SHARED / "realdocs" / "en_tidy_data_jss2014.pdf"
    if not path.is_file():
        pytest.skip(f"{path} not found: clone the project beside ../shared")
    document = read_document(path)
    found = [p for p in document.passages if "Each variable forms a column" in p.text]
    assert len(found) == 1
    text = found[0].text
    assert text.index("In tidy data:") < text.index("1. Each variable") < text.index("3. Each type")
    page = document.page_texts[found[0].page - 1]
    assert page[found[0].start : found[0].end] == text  # still a span of the page as written
