"""Sentence embeddings for a corpus: a sentence-transformers model (a local directory or a name already
in the local cache), unit-normalised, as Quad's clusters and RDS read them."""
from typing import Any, List

import numpy as np


class SentenceEmbedder:
    """``encode(texts) -> (n, dim) float32`` unit rows, from a sentence-transformers model."""

    def __init__(self, model: str, device: Any = None):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ImportError("--embed MODEL needs sentence-transformers (pip install sentence-transformers); "
                              "--embed lm takes the language model's own last-token hidden state instead") from None
        self.model = SentenceTransformer(model, device=str(device) if device is not None else None)
        dim = self.model.get_sentence_embedding_dimension()
        if dim is None:
            dim = int(self.model.encode(["x"], convert_to_numpy=True).shape[1])
        self.dim = int(dim)

    def encode(self, texts: List[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=len(texts) or 1, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


__all__ = ["SentenceEmbedder"]
