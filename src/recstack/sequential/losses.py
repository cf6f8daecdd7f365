"""Training losses for next-item models, as pure functions.

All take logits and a boolean ``mask`` of positions that count (padding excluded) and return the
mean over counted positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def full_softmax_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the whole catalogue; target 0 (padding) is ignored.

    Args:
        logits: (N, I + 1) scores for every item at N counted or padded positions.
        targets: (N,) internal item ids, 0 where the position does not count.
    """
    logits = logits.float()  # softmax over thousands of items is unstable in half precision
    logits[:, 0] = torch.finfo(logits.dtype).min  # padding is never a valid prediction
    return F.cross_entropy(logits, targets, ignore_index=0)


def sampled_bce(pos_logits: torch.Tensor, neg_logits: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with sampled negatives (SASRec's original loss).

    Args:
        pos_logits: (N,) score of the true next item.
        neg_logits: (N, K) scores of K sampled negatives.
        mask: (N,) True where the position counts.
    """
    return gbce(pos_logits, neg_logits, mask, beta=1.0)


def gbce_beta(n_negatives: int, n_items: int, t: float) -> float:
    """gSASRec's calibration power β = α (t (1 − 1/α) + 1/α), α = K / (I − 1)."""
    alpha = n_negatives / max(n_items - 1, 1)
    return alpha * (t * (1 - 1 / alpha) + 1 / alpha)


def gbce(pos_logits: torch.Tensor, neg_logits: torch.Tensor, mask: torch.Tensor,
         beta: float) -> torch.Tensor:
    """Generalised BCE (Petrov & Macdonald, RecSys 2023): −β log σ(s⁺) − Σ log(1 − σ(s⁻)).

    Raising σ(s⁺) to the power β corrects the over-confidence that sampled negatives cause;
    β = 1 is plain BCE.
    """
    pos = -beta * F.logsigmoid(pos_logits.float())  # (N,)
    neg = -F.logsigmoid(-neg_logits.float()).sum(dim=-1)  # (N,)
    per_position = (pos + neg)[mask]
    return per_position.mean() if per_position.numel() else pos_logits.sum() * 0.0


def sampled_softmax_ce(pos_logits: torch.Tensor, neg_logits: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the true item and K sampled negatives (SASRec+ with negatives)."""
    logits = torch.cat([pos_logits.unsqueeze(-1), neg_logits], dim=-1).float()  # (N, 1 + K)
    labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    per_position = F.cross_entropy(logits, labels, reduction="none")[mask]
    return per_position.mean() if per_position.numel() else pos_logits.sum() * 0.0
