#!/usr/bin/env bash
# PaperBridge quick start: set everything up in ./.venv, index the sample corpus, ask it
# two questions, then start the web UI on it (skip the UI with --no-serve; CI does).
#
#   bash quickstart.sh              # install + index + ask + serve on http://127.0.0.1:7860
#   bash quickstart.sh --no-serve   # the same without the UI
set -euo pipefail
cd "$(dirname "$0")"
serve=1
[[ "${1:-}" == "--no-serve" || "${CI:-}" == "true" ]] && serve=0
PY=${PYTHON:-python3}

echo "== 1/4 Python environment (.venv)"
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: pip takes the CPU build from this machine's disk instead of a
# multi-GB CUDA build that sentence-transformers would otherwise pull in.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev]"

echo "== 2/4 Browser for the UI tests (Debian chromium + CJK fonts; no browser downloads)"
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto.*CJK"; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "   chromium or fonts-noto-cjk missing: sudo apt-get install chromium fonts-noto-cjk (for the browser tests)"
  fi
fi

echo "== 3/4 Embedding models (built once into the user cache, offline) and the sample library"
export HF_HUB_OFFLINE=1
LIB=${PAPERBRIDGE_LIBRARY:-$HOME/.local/share/paperbridge/library}
.venv/bin/paperbridge --library "$LIB" add --sample

echo "== 4/4 Asking the sample library"
.venv/bin/paperbridge --library "$LIB" ask "How many doctoral students were enrolled in Japan in 2023?"
.venv/bin/paperbridge --library "$LIB" ask "20世纪70年代日本在金融、贸易和科技方面受到了哪个国家的打压？"

if [[ $serve == 1 ]]; then
  echo "== Web UI on http://127.0.0.1:7860 (Ctrl-C to stop)"
  exec .venv/bin/paperbridge --library "$LIB" serve
fi
