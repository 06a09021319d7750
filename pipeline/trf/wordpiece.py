"""A WordPiece vocabulary learnt over Sudachi words, and the tokenizer that uses it.

Japanese has no spaces, so BERT-style tokenization is two-stage: a morphological
analyser splits the text into words, then WordPiece (Schuster & Nakajima 2012; Wu et
al. 2016) splits each word into the longest vocabulary pieces from the left, marking
word-internal pieces with ``##``. The tokenizer is transformers'
``BertJapaneseTokenizer`` with ``word_tokenizer_type="sudachi"`` (the class
cl-tohoku's Japanese BERTs use): it is saved with the model and
``AutoTokenizer.from_pretrained`` rebuilds it from ``tokenizer_config.json``. The
vocabulary is trained by HF ``tokenizers`` on the very words that tokenizer's
Sudachi stage produces (same split mode, same NFKC normalization), so training and
use agree piece for piece.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Optional

from ..atomic import write_atomically
from ..tokenizer import split_for_sudachi

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# SudachiPy refuses inputs over ~49 kB; split long documents before analysis.
SUDACHI_MAX_BYTES = 40_000


def sudachi_word_splitter(split_mode: str = "A"):
    """The word stage of ``BertJapaneseTokenizer`` on its own (NFKC, then Sudachi)."""
    from transformers.models.bert_japanese.tokenization_bert_japanese import SudachiTokenizer

    return SudachiTokenizer(do_lower_case=False, normalize_text=True,
                            sudachi_split_mode=split_mode)


def split_words(splitter, text: str) -> list[str]:
    """Sudachi words of ``text`` without whitespace tokens (which WordPiece drops)."""
    words: list[str] = []
    for piece in split_for_sudachi(text, SUDACHI_MAX_BYTES):
        words.extend(w for w in splitter.tokenize(piece) if w.strip())
    return words


def train_wordpiece(word_lists: Iterable[list[str]], out_dir: Path, *, vocab_size: int = 8000,
                    min_frequency: int = 2, limit_alphabet: Optional[int] = None) -> Path:
    """Learn a WordPiece vocabulary from pre-split words; write ``out_dir/vocab.txt``.

    ``limit_alphabet`` keeps the most frequent characters as single-character pieces
    (default: half the vocabulary); rarer characters become ``[UNK]``. Japanese has
    thousands of characters, and a small vocabulary spent on all of them would leave
    no room for multi-character pieces.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if vocab_size < len(SPECIAL_TOKENS) + 10:
        raise ValueError(f"vocab_size {vocab_size} is too small for a WordPiece vocabulary")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    # Words arrive joined by spaces; Sudachi words never contain one (split_words).
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
        limit_alphabet=limit_alphabet or vocab_size // 2, continuing_subword_prefix="##",
        show_progress=False)
    tokenizer.train_from_iterator((" ".join(words) for words in word_lists), trainer=trainer)
    vocab = tokenizer.get_vocab()
    if len(vocab) <= len(SPECIAL_TOKENS):
        raise ValueError("the corpus gave no WordPiece vocabulary: is it empty?")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(vocab, key=vocab.__getitem__)
    path = out_dir / "vocab.txt"
    write_atomically(path, "".join(f"{piece}\n" for piece in ordered).encode("utf-8"))
    return path


def japanese_bert_tokenizer(vocab_file: Path, *, split_mode: str = "A", model_max_length: int = 512):
    """``BertJapaneseTokenizer``: Sudachi words, then WordPiece over ``vocab_file``."""
    from transformers import BertJapaneseTokenizer

    return BertJapaneseTokenizer(
        str(vocab_file), do_lower_case=False, word_tokenizer_type="sudachi",
        subword_tokenizer_type="wordpiece", model_max_length=model_max_length,
        sudachi_kwargs={"sudachi_split_mode": split_mode, "sudachi_dict_type": "core"})


def wordpiece_ids(tokenizer, words: list[str]) -> list[int]:
    """Ids of ``words`` (already Sudachi-split) under ``tokenizer``'s WordPiece stage:
    what ``tokenizer(text)`` gives without special tokens, without running Sudachi
    a second time."""
    pieces: list[str] = []
    for word in words:
        pieces.extend(tokenizer.subword_tokenizer.tokenize(word))
    return tokenizer.convert_tokens_to_ids(pieces)


def iter_word_lists(texts: Iterable[str], split_mode: str = "A") -> Iterator[list[str]]:
    splitter = sudachi_word_splitter(split_mode)
    for text in texts:
        yield split_words(splitter, text)
