"""What a serving process does once, before its first request (``dgd.wsgi``; the library benchmark does the same).

It loads what requests would otherwise load lazily: every view module (through the URLconf) and the search
tokenizer (jieba with the domain dictionary, about a second). Then ``gc.freeze()`` moves every object alive at
that point (about 190,000: modules, functions, classes) out of the collector's reach. Without it, each full
collection walked them all: a pause of 100–120 ms in whichever request triggered it, measured in the library
benchmark as one facets request in ten taking 127 ms instead of 17 (docs/library.md, "Where it stands").
"""

import gc


def prepare_process():
    from django.urls import get_resolver

    from policies.indexing import tokenizer

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    tokenizer()
    gc.collect()
    gc.freeze()
