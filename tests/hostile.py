"""Hostile and unlucky inputs for the fault-injection tests, built on the fly.

Nothing here is a stand-in for the code under test: these are real files (PDFs that are
decompression bombs or share one huge content stream, fuzzed copies of real PDFs) and real
damage done to real libraries.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

_MIB = 1 << 20


def deflate_repeated(chunk: bytes, times: int) -> bytes:
    """A zlib stream of ``chunk`` repeated ``times`` times, built in a fraction of a second.

    The chunk is compressed once, ending on a full flush (which resets the window, so the
    compressed block stands alone), and that block is repeated; the Adler-32 of the whole is
    computed incrementally. A 1 GiB stream of drawing operators costs about 1 MB.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(times):
        adler = zlib.adler32(chunk, adler)
    return b"\x78\xda" + block * times + b"\x03\x00" + struct.pack(">I", adler)


def pdf_with_stream(path: Path, stream: bytes, *, pages: int = 1, text: str = "") -> Path:
    """A valid PDF whose ``pages`` pages all draw the same Flate content ``stream``.

    ``text`` (ASCII) adds a second, ordinary content stream with that text on each page, so
    that readers find text besides the bomb.
    """
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{' '.join(f'{5 + i} 0 R' for i in range(pages))}] "
            f"/Count {pages} >>".encode(),
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    words = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs.append(b"<< /Length %d >>\nstream\n" % len(words) + words + b"\nendstream")
    font = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [4 0 R 3 0 R] "
             b"/Resources " + font + b" >>" for _ in range(pages)]
    body, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objs, 1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    body += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(body)
    return path


def decompression_bomb(path: Path, inflated_mib: int = 1024) -> Path:
    """A ~1 MB PDF whose page content inflates to ``inflated_mib`` MiB of drawing operators."""
    chunk = (b"0 0 m 1 1 l\n" * (_MIB // 12 + 1))[:_MIB]
    return pdf_with_stream(path, deflate_repeated(chunk, inflated_mib), text="Bomb page")


def shared_stream_pdf(path: Path, pages: int = 50, inflated_mib: int = 70) -> Path:
    """A small PDF whose ``pages`` pages share one content stream of ``inflated_mib`` MiB of
    text operators: each page parses all of it again (minutes of work without a limit)."""
    chunk = (b"BT /F1 1 Tf 0 0 Td (x) Tj ET\n" * (_MIB // 29 + 1))[:_MIB]
    return pdf_with_stream(path, deflate_repeated(chunk, inflated_mib), pages=pages, text="Shared")


def fuzz(data: bytes, rng: random.Random) -> bytes:
    """One mutation of a file: flipped bytes, a cut, a duplicated or deleted span."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        how = rng.random()
        at = rng.randrange(len(out))
        if how < 0.5:
            out[at] = rng.randrange(256)
        elif how < 0.65:
            del out[at: at + rng.randint(1, 512)]
        elif how < 0.8:
            span = out[at: at + rng.randint(1, 512)]
            out[at:at] = span
        elif how < 0.9:
            out[at: at + 8] = rng.choice([b"<<", b">>", b"obj", b"endobj", b"/Length 999999",
                                          b"stream", b"[", b"]", b"9999999 0 R", b"/Filter"])
        else:
            del out[at:]
            if not out:
                out = bytearray(data[:1])
    return bytes(out)
