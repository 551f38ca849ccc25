"""A stand-in tokenizer: splits text into word-sized pieces and gives each an integer id.

The engine uses it to count prompt tokens (usage, max-model-len checks) and to hash prompt blocks for
prefix caching. English text comes out at roughly 1.3 pieces per word, near what BPE tokenizers give;
a real tokenizer would need model files, which the simulation deliberately does without.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_PIECE = re.compile(r"\s?[A-Za-z]{1,7}|\s?\d{1,3}|\s?[^\sA-Za-z\d]|\s+")


def split_pieces(text: str) -> list[str]:
    """The token pieces of ``text``; joining them gives ``text`` back."""
    return _PIECE.findall(text)


def encode(text: str) -> list[int]:
    """Token ids: the hash of each piece. Stable within a process, which is all prefix caching needs
    (string hashing is salted per process); counts, not ids, are what clients compare."""
    return list(map(hash, _PIECE.findall(text)))


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
