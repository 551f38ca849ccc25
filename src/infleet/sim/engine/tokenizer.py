"""A stand-in tokenizer: splits text into word-sized pieces and gives each a stable integer id.

The engine uses it to count prompt tokens (usage, max-model-len checks) and to hash prompt blocks for
prefix caching. English text comes out at roughly 1.3 pieces per word, near what BPE tokenizers give;
a real tokenizer would need model files, which the simulation deliberately does without.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence

_PIECE = re.compile(r"\s?[A-Za-z]{1,7}|\s?\d{1,3}|\s?[^\sA-Za-z\d]|\s+")


def split_pieces(text: str) -> list[str]:
    """The token pieces of ``text``; joining them gives ``text`` back."""
    return _PIECE.findall(text)


_VOCAB: dict[str, int] = {}
_VOCAB_LIMIT = 500_000


def _token_id(piece: str) -> int:
    if len(_VOCAB) >= _VOCAB_LIMIT:
        _VOCAB.clear()  # a bound on memory; ids are recomputed identically
    token = _VOCAB[piece] = zlib.crc32(piece.encode()) & 0x7FFFFFFF
    return token


def encode(text: str) -> list[int]:
    """Stable ids (crc32 of each piece), memoised because prompts repeat the same pieces."""
    get = _VOCAB.get
    return [get(piece) or _token_id(piece) for piece in _PIECE.findall(text)]


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
