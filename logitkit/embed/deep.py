"""``DeepTower``: the MLP of DeepFM (Guo et al. 2017) over the concatenated field
embeddings, with a hand-written forward and backward and its own optimiser.

For a row with T positions and k-vectors v_1..v_T (the FM's, shared), x = [v_1, …, v_T]
(T·k) and

    h_0 = x,   a_l = W_l h_{l−1} + b_l,   h_l = relu(a_l)  (l = 1..L),   o = wᵀ h_L + c,

o (a number) adds to the row's logit beside the linear and FM parts; the same logistic
head and loss follow. Backward from r = ∂loss/∂o per row:

    ∂c = Σ r,  ∂w = h_Lᵀ r,  δ_L = (r wᵀ) ⊙ [a_L > 0],
    ∂W_l = δ_lᵀ h_{l−1},  ∂b_l = Σ_rows δ_l,  δ_{l−1} = (δ_l W_l) ⊙ [a_{l−1} > 0],
    ∂x = δ_1 W_1   (with no hidden layers: ∂x = r wᵀ),

∂x going back to the embedding rows with the FM's gradient. The dense parameters are
learned by Adam (``torch.optim.Adam``, default) or Adagrad on these summed gradients,
one step per mini-batch; ``tensors`` / ``load_tensors`` carry parameters and optimiser
state for checkpoints. Initialisation: W_l and w Kaiming-normal for ReLU,
N(0, 2/fan_in), drawn from a ``torch.Generator`` seeded with ``seed`` in layer order
(on the CPU, the same bits on every device); biases 0.
"""
from __future__ import annotations

from typing import Sequence

import torch

from logitkit._util.errors import ConfigError
from logitkit.embed.encoder import check_encoder_params

DENSE_OPTIMIZERS = ("adam", "adagrad")


class DeepTower:
    """An MLP from (n, in_features) to (n,), learned with hand-written gradients."""

    def __init__(self, in_features: int, hidden: Sequence[int] = (64, 32), optimizer: str = "adam",
                 learning_rate: float = 1e-3, seed: int = 0, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        sizes = check_encoder_params("DeepTower", hidden, "relu", 0.0, False)
        if optimizer not in DENSE_OPTIMIZERS:
            raise ConfigError(f"dense optimizer={optimizer!r} is not one of {list(DENSE_OPTIMIZERS)}")
        if not float(learning_rate) > 0:
            raise ConfigError(f"dense learning_rate={learning_rate!r} must be > 0")
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        width = int(in_features)
        for out in (*sizes, 1):
            w = torch.randn(out, width, generator=gen, dtype=torch.float64) * (2.0 / width) ** 0.5
            self.weights.append(w.to(device=device, dtype=dtype))
            self.biases.append(torch.zeros(out, device=device, dtype=dtype))
            width = out
        self.params = [p for pair in zip(self.weights, self.biases) for p in pair]
        opt = torch.optim.Adam if optimizer == "adam" else torch.optim.Adagrad
        self.opt = opt(self.params, lr=float(learning_rate))
        self.hidden, self.optimizer_name, self.learning_rate = sizes, optimizer, float(learning_rate)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(n, in_features) -> (o (n,), the layer inputs and pre-activations for ``backward``)."""
        saved = [x]
        h = x
        last = len(self.weights) - 1
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            a = torch.addmm(b, h, w.T)
            if l == last:
                return a.view(-1), saved
            saved.append(a)
            h = torch.relu(a)
            saved.append(h)
        raise AssertionError("unreachable")

    def backward(self, saved: list[torch.Tensor], r: torch.Tensor) -> torch.Tensor:
        """Gradients from r = ∂loss/∂o (n,): stores ∂W, ∂b in each parameter's ``.grad``,
        returns ∂x (n, in_features)."""
        delta = r.view(-1, 1)
        for l in range(len(self.weights) - 1, -1, -1):
            h_in = saved[2 * l]  # h_{l} (the input of layer l): x, then relu outputs
            self.weights[l].grad = delta.T @ h_in
            self.biases[l].grad = delta.sum(0)
            delta = delta @ self.weights[l]
            if l > 0:
                delta = delta.mul_(saved[2 * l - 1] > 0)  # relu'(a) of the layer below
        return delta

    def step(self) -> None:
        """One optimiser step on the stored gradients."""
        self.opt.step()

    def tensors(self) -> dict[str, torch.Tensor]:
        """Parameters and optimiser state as named tensors (for checkpoints, safetensors):
        ``W<l>``, ``b<l>`` (layer l = 0, 1, …, the output layer last) and ``opt.<i>.<name>``
        (the optimiser's state of parameter i in the order W_0, b_0, W_1, …: Adam's
        ``step``, ``exp_avg``, ``exp_avg_sq``; Adagrad's ``step``, ``sum``). Live tensors,
        not copies."""
        out = {}
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            out[f"W{l}"], out[f"b{l}"] = w, b
        for i, state in self.opt.state_dict()["state"].items():
            out.update({f"opt.{i}.{name}": v for name, v in state.items()})
        return out

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what ``tensors`` gave (copied in: nothing is shared with ``tensors``)."""
        with torch.no_grad():
            for l, (w, b) in enumerate(zip(self.weights, self.biases)):
                w.copy_(tensors[f"W{l}"])
                b.copy_(tensors[f"b{l}"])
        state: dict[int, dict] = {}
        for key, v in tensors.items():
            if key.startswith("opt."):
                _, i, name = key.split(".", 2)
                state.setdefault(int(i), {})[name] = v.detach().clone()
        self.opt.load_state_dict({"state": state, "param_groups": self.opt.state_dict()["param_groups"]})
