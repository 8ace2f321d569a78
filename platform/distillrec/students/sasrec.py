"""SASRec (Kang and McAuley, ICDM 2018) as in the DLLM2Rec reference code (one block, one head)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from distillrec.students.base import SequentialRecommender, gather_last


class CausalSelfAttention(nn.Module):
    """Multi-head attention of the reference: queries are the layer-normed sequence, keys/values
    the raw one, padding keys and future positions masked, scores scaled by sqrt(hidden_size),
    residual connection to the queries."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.scale = hidden_size**-0.5
        self.q = nn.Linear(hidden_size, hidden_size)
        self.k = nn.Linear(hidden_size, hidden_size)
        self.v = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, key_pad: torch.Tensor):
        """``[B, L, H]``, ``[B, L, H]``, ``[B, L]`` bool (True = padding) -> ``[B, L, H]``."""
        batch, length, hidden = queries.shape
        heads = self.num_heads

        def split(x: torch.Tensor) -> torch.Tensor:  # [B, L, H] -> [B, heads, L, H/heads]
            return x.view(batch, length, heads, hidden // heads).transpose(1, 2)

        q, k, v = split(self.q(queries)), split(self.k(keys)), split(self.v(keys))
        logits = (q @ k.transpose(-1, -2)) * self.scale  # [B, heads, L, L]
        future = torch.ones(length, length, dtype=torch.bool, device=q.device).triu(1)
        blocked = future.view(1, 1, length, length) | key_pad.view(batch, 1, 1, length)
        logits = logits.masked_fill(blocked, -(2.0**32) + 1)
        attn = self.dropout(torch.softmax(logits, dim=-1))
        out = (attn @ v).transpose(1, 2).reshape(batch, length, hidden)
        return out + queries


class PositionwiseFeedForward(nn.Module):
    """Two position-wise linear maps with ReLU, dropout, residual and layer norm. The reference
    writes them as 1x1 ``Conv1d``s, the same function; ``Linear`` is faster on CPU."""

    def __init__(self, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.w1 = nn.Linear(hidden_size, hidden_size)
        self.w2 = nn.Linear(hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dropout(self.w2(F.relu(self.w1(x)))) + x)


class SASRec(SequentialRecommender):
    """Self-attentive sequential recommendation: item + positional embeddings, one causal
    self-attention block, the state at the last real item, linear head over all items."""

    def __init__(
        self,
        num_items: int,
        max_history: int,
        hidden_size: int = 64,
        dropout: float = 0.1,
        num_heads: int = 1,
    ) -> None:
        super().__init__(num_items, max_history, hidden_size)
        self.positions = nn.Embedding(max_history, hidden_size)
        self.emb_dropout = nn.Dropout(dropout)
        self.ln_1 = nn.LayerNorm(hidden_size)
        self.ln_2 = nn.LayerNorm(hidden_size)
        self.ln_3 = nn.LayerNorm(hidden_size)
        self.attention = CausalSelfAttention(hidden_size, num_heads, dropout)
        self.feed_forward = PositionwiseFeedForward(hidden_size, dropout)
        self.head = nn.Linear(hidden_size, num_items)

    def score(self, history: torch.Tensor, history_len: torch.Tensor) -> torch.Tensor:
        mask = self.padding_mask(history)  # [B, L, 1]
        seq = self.embed_history(history) + self.positions.weight.unsqueeze(0)
        seq = self.emb_dropout(seq) * mask
        attended = self.attention(self.ln_1(seq), seq, history.eq(self.padding_id))
        states = self.ln_3(self.feed_forward(self.ln_2(attended)) * mask)  # [B, L, H]
        return self.head(gather_last(states, history_len))  # [B, N]
