"""Records to token batches: the text field, or a prompt and a completion with the prompt masked out of
the loss; truncation to ``max_length`` counted; right padding (so a row's tokens keep their positions
and never attend to padding)."""
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch


@dataclass
class Fields:
    """Which record fields make an example: ``text`` alone (every token in the loss), or ``prompt`` and
    ``completion`` (only the completion's tokens in the loss, as LESS's instruction data)."""
    text: Optional[str] = "text"
    prompt: Optional[str] = None
    completion: Optional[str] = None

    def __post_init__(self) -> None:
        if (self.prompt is None) != (self.completion is None):
            raise ValueError("give both a prompt field and a completion field, or neither")


@dataclass
class TokenCounts:
    """What tokenizing reported: rows truncated to ``max_length`` and rows with no token to learn from
    (empty text, or a completion truncated away), which get no gradient and are marked unusable."""
    truncated: List[int] = field(default_factory=list)
    empty: List[int] = field(default_factory=list)
    tokens: int = 0


class Tokenizing:
    """Turns records into ``(input_ids, labels)`` with a tokenizer, checking the model's vocabulary."""

    def __init__(self, tokenizer: Any, fields: Fields, max_length: int, vocab_size: Optional[int] = None,
                 add_eos: bool = True, source: str = "record"):
        if max_length < 2:
            raise ValueError(f"--max-length must be at least 2 tokens (one to predict from, one to predict), not {max_length}")
        self.tokenizer = tokenizer
        self.fields = fields
        self.max_length = max_length
        self.add_eos = add_eos and tokenizer.eos_token_id is not None
        self.source = source
        if vocab_size is not None and len(tokenizer) > vocab_size:
            raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but the model's embedding has {vocab_size} rows: "
                             "they do not belong together (use the model's own tokenizer, or resize the model's embeddings)")
        self.vocab_size = vocab_size

    def example(self, row: int, record: Mapping[str, Any], counts: TokenCounts) -> Tuple[List[int], List[int]]:
        f = self.fields
        if f.prompt is not None:
            prompt = _field(record, f.prompt, row, self.source)
            completion = _field(record, f.completion, row, self.source)  # type: ignore[arg-type]
            prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            completion_ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"]
        else:
            prompt_ids = []
            completion_ids = self.tokenizer(_field(record, f.text, row, self.source), add_special_tokens=False)["input_ids"]  # type: ignore[arg-type]
        if self.add_eos and completion_ids:
            completion_ids = completion_ids + [self.tokenizer.eos_token_id]
        ids = prompt_ids + completion_ids
        labels = [-100] * len(prompt_ids) + list(completion_ids)
        if len(ids) > self.max_length:
            counts.truncated.append(row)
            ids, labels = ids[:self.max_length], labels[:self.max_length]
        if self.vocab_size is not None and ids and max(ids) >= self.vocab_size:
            raise ValueError(f"{self.source} row {row}: token id {max(ids)} is outside the model's vocabulary of {self.vocab_size}")
        if not has_loss_token(labels):
            counts.empty.append(row)
        counts.tokens += len(ids)
        return ids, labels


def has_loss_token(labels: Sequence[int]) -> bool:
    """Whether an example has a token to predict: a label other than -100 after the first position (the
    first token is never predicted)."""
    return any(label != -100 for label in labels[1:])


def collate(examples: Sequence[Tuple[List[int], List[int]]], pad_id: int, device: Any = None) -> Dict[str, torch.Tensor]:
    """Right-padded tensors: ``input_ids``, ``attention_mask``, ``labels`` (-100 on padding)."""
    width = max(1, max(len(ids) for ids, _ in examples))
    n = len(examples)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for i, (ids, lab) in enumerate(examples):
        if ids:
            input_ids[i, :len(ids)] = torch.tensor(ids)
            labels[i, :len(lab)] = torch.tensor(lab)
            mask[i, :len(ids)] = 1
        else:  # an empty record: one padding token, attended so the model sees a valid row; no label
            mask[i, 0] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def _field(record: Mapping[str, Any], name: str, row: int, source: str) -> str:
    if not isinstance(record, Mapping) or name not in record:
        keys = ", ".join(list(record)[:8]) if isinstance(record, Mapping) else type(record).__name__
        raise ValueError(f"{source} row {row} has no field '{name}' (it has: {keys}); name the field with --text-field "
                         "or --prompt-field/--completion-field")
    value = record[name]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{source} row {row}: field '{name}' is a {type(value).__name__}, not text")
    return value


def batches(rows: Iterable[Tuple[int, Mapping[str, Any]]], batch_size: int) -> Iterator[List[Tuple[int, Mapping[str, Any]]]]:
    """Consecutive groups of ``batch_size`` rows: a batch is a fixed unit of work (rows ``k*B ..``), so
    a resumed or data-parallel run computes every row in the same company, bit for bit."""
    current: List[Tuple[int, Mapping[str, Any]]] = []
    for item in rows:
        current.append(item)
        if len(current) == batch_size:
            yield current
            current = []
    if current:
        yield current


__all__ = ["Fields", "TokenCounts", "Tokenizing", "batches", "collate", "has_loss_token"]
