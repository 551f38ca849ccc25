"""A stand-in tokenizer: splits text into word-sized pieces and gives each an integer id.

The engine uses it to count prompt tokens (usage, max-model-len checks) and to hash prompt blocks for
prefix caching. English text comes out at roughly 1.3 pieces per word, near what BPE tokenizers give;
a real tokenizer would need model files, which the simulation deliberately does without.
Encoding goes word by word through a bounded cache: prompts repeat the same words, and one regex
pass over a whole prompt was a tenth of a hosting process's CPU per request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

_PIECE = re.compile(r"\s?[A-Za-z]{1,7}|\s?\d{1,3}|\s?[^\sA-Za-z\d]|\s+")
# A run of whitespace and the non-whitespace after it. No piece spans a non-space followed by a space, so
# pieces never cross these chunks and a text's pieces are its chunks' pieces in order.
_CHUNK = re.compile(r"\s*\S*")


def split_pieces(text: str) -> list[str]:
    """The token pieces of ``text``; joining them gives ``text`` back."""
    return _PIECE.findall(text)


def encode(text: str) -> list[int]:
    """Token ids: the hash of each piece. Stable within a process, which is all prefix caching needs
    (string hashing is salted per process); counts, not ids, are what clients compare."""
    out: list[int] = []
    extend = out.extend
    for chunk in _CHUNK.findall(text):
        extend(_chunk_ids(chunk))
    return out


@lru_cache(maxsize=65536)
def _chunk_ids(chunk: str) -> tuple[int, ...]:
    return tuple(map(hash, _PIECE.findall(chunk)))


def count_tokens(text: str) -> int:
    return len(_PIECE.findall(text))


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, Mapping):
                parts.append("<image>")  # images cost tokens too; one placeholder keeps counts honest-ish
        return "".join(parts)
    return "" if content is None else str(content)


def render_chat(messages: Sequence[Mapping[str, object]], add_generation_prompt: bool = True) -> str:
    """Apply a ChatML-like template, so a shared system prompt is a shared token prefix."""
    out = []
    for message in messages:
        out.append(
            f"<|im_start|>{message.get('role', 'user')}\n{_content_text(message.get('content'))}<|im_end|>\n"
        )
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)
