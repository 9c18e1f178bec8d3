"""Where a library version's vectors and BM25 index live: the store interface and its two stores.

:mod:`.base` defines the interface (:class:`SearchIndexes` for readers, :class:`IndexBuilder`
for the writer), :mod:`.local` the default (FAISS + bm25s files in the version folder),
:mod:`.milvus` a Milvus server or Milvus Lite (optional: ``pip install 'paperbridge[scale]'``).
:mod:`.dispatch` picks the store for each step (a version folder with a ``store.json`` keeps
its indexes in Milvus), :mod:`.spec` parses the settings. This package imports nothing on
its own, so that ``index.config`` can use :mod:`.spec`.
"""
