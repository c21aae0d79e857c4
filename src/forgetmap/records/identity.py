"""Content fingerprints of an item, so that two records paired by (task, item_id, seed) can be
checked to be the same item (compare's `mismatched`): a short hash of the question text and one of
the option texts. `conform` fills them in for every record written (engine and importers), so
compare reads two short dictionary-encoded columns instead of the texts; files written before they
existed get them computed from `question` / `choices` when read.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OPTION_SEPARATOR = "\u241f"  # joins option texts: two lists are equal iff the joined texts are


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def hash_strings(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """`text_hash` of every string (null stays null), hashing each distinct value once."""
    enc = pc.dictionary_encode(col)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    hashed = pa.array([text_hash(v) for v in enc.dictionary.to_pylist()], pa.string())
    if len(hashed) == 0:
        return pa.nulls(len(enc), pa.string())
    idx = np.asarray(pc.fill_null(enc.indices, 0).to_numpy(zero_copy_only=False), np.int64)
    out = hashed.take(pa.array(idx))
    return pc.if_else(pc.is_null(enc.indices), pa.scalar(None, pa.string()), out)


def options_text(choices: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """The option texts of each row joined by OPTION_SEPARATOR (null for a null list)."""
    if pa.types.is_null(choices.type):
        return pa.nulls(len(choices), pa.string())
    return pc.binary_join(choices.cast(pa.list_(pa.string())), OPTION_SEPARATOR)


def content_hashes(question: pa.ChunkedArray, choices: pa.ChunkedArray) -> dict[str, pa.Array]:
    """{"question_hash", "options_hash"} of the given columns."""
    q = question if not pa.types.is_null(question.type) else question.cast(pa.string())
    return {"question_hash": hash_strings(q), "options_hash": hash_strings(options_text(choices))}
