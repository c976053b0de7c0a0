"""Tiny real language models for the feature tests: a byte-level BPE tokenizer trained on the test's own
texts and a GPT-2-shaped model built from a config (random weights, nothing downloaded), saved with
save_pretrained like any local model."""
import json
import random
from pathlib import Path
from typing import List

WORDS = ("alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega python function class module "
         "return value list dict string import print loop while recipe salt pepper onion garlic bake oven").split()


def texts(n: int, seed: int = 0) -> List[str]:
    """``n`` short documents of varying length (3 to 40 words) from a small vocabulary."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))) for _ in range(n)]


def write_corpus(path: Path, docs: List[str], extra=None) -> Path:
    with open(path, "w", encoding="utf-8") as file:
        for i, text in enumerate(docs):
            record = {"id": f"doc-{i}", "text": text}
            if extra:
                record.update(extra(i))
            file.write(json.dumps(record) + "\n")
    return path


def tiny_model(directory: Path, corpus_texts: List[str], *, layers: int = 2, width: int = 32, heads: int = 2,
               positions: int = 128, seed: int = 0) -> Path:
    """A GPT-2-shaped model and its tokenizer in ``directory`` (created from a config, random weights)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast
    directory.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus_texts, vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                  unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    eos = tokenizer.eos_token_id
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=positions, n_embd=width, n_layer=layers, n_head=heads,
                        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory


def tiny_sentence_model(directory: Path, words: List[str] = WORDS) -> Path:
    """A sentence-transformers model (a one-layer BERT from a config with mean pooling) saved in
    ``directory``, for ``--embed``."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast
    bert = directory / "bert"
    bert.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(words))]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(directory / "vocab.txt"))
    tokenizer.save_pretrained(bert)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(bert)
    transformer = models.Transformer(str(bert))
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling]).save(str(directory / "model"))
    return directory / "model"
