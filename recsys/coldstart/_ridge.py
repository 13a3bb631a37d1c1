"""Ridge regression along a path of strengths, for many targets at once, on sparse features.

The metadata mapper tries several strengths for each vector space and
refits the best one on all the warm items. scikit-learn's ``Ridge`` on
sparse input with an intercept solves each of the vector's dimensions
with its own conjugate-gradient run and starts every strength from zero:
on 1,000 yes playlists' songs (23,912 items, 12,633 features, 64
dimensions) the mapper's 14 fits took 29 s of its 41.

:func:`ridge_path` solves the same problems (the same penalty, the
intercept unpenalised, the features centred implicitly so that they stay
sparse) by conjugate gradients on every target in lockstep, so that each
step is one sparse product with a dense block; with a Jacobi
preconditioner; and from strong to weak penalty, each strength starting
from the solution of the one before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["RidgeSolution", "ridge_path"]

_TOLERANCE = 1e-5
"""Each target's residual, relative to its right-hand side's norm, at which its solution is final:
ten times stricter than scikit-learn's sparse conjugate gradients."""
_MAX_STEPS = 2_000


@dataclass(frozen=True)
class RidgeSolution:
    """One strength's fit: predictions are ``features @ coef.T + intercept``."""

    alpha: float
    coef: np.ndarray
    """``(n_targets, n_features)`` float64, as scikit-learn's ``Ridge.coef_``."""
    intercept: np.ndarray
    """``(n_targets,)`` float64."""
    steps: int
    """Conjugate-gradient steps this strength took."""

    def predict(self, features: sp.spmatrix | np.ndarray) -> np.ndarray:
        """Predicted targets of ``features``' rows, float64."""
        return np.asarray(features @ self.coef.T) + self.intercept


class _CentredNormal:
    """The operator ``Xcᵀ Xc`` of features ``X`` centred on their column means, never forming ``Xc``."""

    def __init__(self, features: sp.spmatrix | np.ndarray) -> None:
        self.features = sp.csr_matrix(features, dtype=np.float64)
        self.transposed = self.features.T.tocsr()
        self.means = np.asarray(self.features.mean(axis=0)).ravel()
        n_rows = self.features.shape[0]
        squares = np.asarray(self.features.multiply(self.features).sum(axis=0)).ravel()
        self.diagonal = np.maximum(squares - n_rows * self.means**2, 0.0)
        """The diagonal of ``Xcᵀ Xc``: the preconditioner's."""

    def apply(self, block: np.ndarray) -> np.ndarray:
        """``Xcᵀ Xc @ block`` for a dense ``(n_features, n_targets)`` block."""
        centred = self.features @ block - self.means @ block  # Xc @ block; its columns sum to zero
        return self.transposed @ centred

    def right_hand_side(self, targets: np.ndarray) -> np.ndarray:
        """``Xcᵀ (Y - mean(Y))``."""
        centred = targets - targets.mean(axis=0)
        return self.transposed @ centred - np.outer(self.means, centred.sum(axis=0))


def ridge_path(
    features: sp.spmatrix | np.ndarray,
    targets: np.ndarray,
    alphas: Sequence[float],
    *,
    start: np.ndarray | None = None,
) -> list[RidgeSolution]:
    """Ridge fits of ``targets`` on ``features`` for every strength in ``alphas``, with an unpenalised intercept.

    Minimises ``||Y - X W - 1 b||² + alpha ||W||²`` for each strength, as
    scikit-learn's ``Ridge(alpha=alpha)`` does, by preconditioned conjugate
    gradients on all targets at once (see the module docstring). The
    strengths are solved from the largest to the smallest, each starting
    from the previous solution; the result is in the order given.

    Parameters
    ----------
    features
        ``(n_rows, n_features)`` sparse (or dense) features.
    targets
        ``(n_rows, n_targets)`` values to predict.
    alphas
        Positive penalty strengths.
    start
        ``(n_targets, n_features)`` coefficients to start the first (strongest)
        strength from, for example a fit on a subset of the rows; zeros by default.

    Returns
    -------
    list of RidgeSolution
        One per strength, in the order of ``alphas``.
    """
    if not alphas or min(alphas) <= 0:
        raise ValueError(f"alphas must be positive numbers, got {list(alphas)}")
    operator = _CentredNormal(features)
    targets = np.asarray(targets, dtype=np.float64)
    rhs = operator.right_hand_side(targets)
    norms = np.linalg.norm(rhs, axis=0)
    coef = np.zeros_like(rhs) if start is None else np.array(start, dtype=np.float64).T
    solved: dict[float, RidgeSolution] = {}
    for alpha in sorted(set(alphas), reverse=True):
        steps = _conjugate_gradients(operator, alpha, rhs, norms, coef)
        intercept = targets.mean(axis=0) - operator.means @ coef
        solved[alpha] = RidgeSolution(float(alpha), coef.T.copy(), intercept, steps)
    return [solved[alpha] for alpha in alphas]


def _conjugate_gradients(
    operator: _CentredNormal, alpha: float, rhs: np.ndarray, norms: np.ndarray, coef: np.ndarray
) -> int:
    """Solve ``(Xcᵀ Xc + alpha I) coef = rhs`` in place, every column in lockstep; returns the steps taken.

    A column whose residual is within :data:`_TOLERANCE` of its right-hand
    side stops moving while the others go on. After :data:`_MAX_STEPS`
    steps (never reached on the mapper's problems, which take tens) the
    columns are left where they are.
    """
    preconditioner = 1.0 / (operator.diagonal + alpha)
    residual = rhs - operator.apply(coef) - alpha * coef
    preconditioned = residual * preconditioner[:, None]
    direction = preconditioned.copy()
    product = np.einsum("ij,ij->j", residual, preconditioned)
    for step in range(_MAX_STEPS):
        active = np.linalg.norm(residual, axis=0) > _TOLERANCE * norms
        if not active.any():
            return step
        moved = operator.apply(direction) + alpha * direction
        curvature = np.einsum("ij,ij->j", direction, moved)
        length = np.divide(product, curvature, out=np.zeros_like(product), where=active & (curvature > 0))
        coef += direction * length
        residual -= moved * length
        preconditioned = residual * preconditioner[:, None]
        following = np.einsum("ij,ij->j", residual, preconditioned)
        direction = preconditioned + direction * np.divide(following, product, out=np.zeros_like(product),
                                                           where=product > 0)
        product = following
    return _MAX_STEPS
