"""The computational graph autograd records, as Graphviz DOT text, SVG or PNG.

PyTorch builds the graph on the fly while the loss is computed: each result tensor
holds a ``grad_fn`` node (``AddmmBackward0``, ``SigmoidBackward0`` ...) whose
``next_functions`` point at the nodes of its inputs, down to ``AccumulateGrad``
nodes for the leaves (the parameters). ``graph`` walks that structure from the loss.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
from torch import nn

from logitkit._util.errors import DataError

_EDGE = re.compile(r'^\s*(n\d+)\s*->\s*(n\d+)')
_NODE = re.compile(r'^\s*(n\d+)\s*\[label="((?:[^"\\]|\\.)*)"(.*)\]')


def _op_name(fn) -> str:
    """'AddmmBackward0' -> 'Addmm': the forward operation that recorded the node."""
    return re.sub(r"Backward\d*$", "", type(fn).__name__)


def _class_index(classes, y) -> np.ndarray:
    """Labels (values of ``classes``) or class indices 0..K-1, as indices."""
    y = np.asarray(y)
    if np.isin(y, classes).all():
        return np.searchsorted(classes, y)
    if y.dtype.kind in "iu" and len(y) and y.min() >= 0 and y.max() < len(classes):
        return y.astype(np.int64)
    raise DataError(f"graph: y has values {np.setdiff1d(y, classes)[:3].tolist()} that are not classes of the model "
                    f"({list(classes)}); pass the training labels or class indices")


def _loss_of(model, X, y, names: dict) -> torch.Tensor:
    """Build the loss whose graph is drawn; fills ``names`` {id(param): name}."""
    if isinstance(model, torch.Tensor):
        return model
    if X is None:
        raise DataError("graph(model, X, y): pass X (and y) so the model can compute its loss; "
                        "or pass a loss tensor")
    net = getattr(model, "network_", None)
    if net is not None:  # MLPClassifier: the full objective, penalty included
        names.update({id(p): n for n, p in net.named_parameters()})
        p = next(net.parameters())
        Xt = torch.as_tensor(np.asarray(X), dtype=p.dtype, device=p.device)
        if y is None:
            return net(Xt)
        yi = torch.as_tensor(_class_index(model.classes_, y), device=p.device)
        return model.objective(Xt, yi, torch.ones(len(yi), dtype=p.dtype, device=p.device))
    if hasattr(model, "coef_"):  # a fitted linear estimator: rebuild z = X Wᵀ + b
        from logitkit.predict.head import LogisticHead

        coef = np.atleast_2d(model.coef_)
        head = LogisticHead(coef.shape[1], len(model.classes_), multiclass=getattr(model, "multiclass", "softmax"),
                            dtype=torch.float64)
        with torch.no_grad():
            head.linear.weight.copy_(torch.as_tensor(coef))
            head.linear.bias.copy_(torch.as_tensor(np.asarray(model.intercept_).reshape(-1)))
        names.update({id(head.linear.weight): "W", id(head.linear.bias): "b"})
        Xt = torch.as_tensor(np.asarray(X, dtype=float))
        if y is None:
            return head(Xt)
        yi = torch.as_tensor(_class_index(model.classes_, y))
        loss = head.loss(Xt, yi)
        alpha = float(getattr(model, "alpha", 0.0) or 0.0) if getattr(model, "penalty", None) == "l2" else 0.0
        return loss + 0.5 * alpha * (head.linear.weight ** 2).sum() if alpha else loss
    if isinstance(model, nn.Module):
        names.update({id(p): n for n, p in model.named_parameters()})
        p = next(model.parameters(), None)
        dtype = p.dtype if p is not None else torch.get_default_dtype()
        device = p.device if p is not None else None
        Xt = X.detach() if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
        out = model(Xt.to(dtype=dtype, device=device))
        if y is None:
            return out
        yt = (y.detach() if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))).to(out.device)
        if out.ndim == 1 or out.shape[-1] == 1:
            return nn.functional.binary_cross_entropy_with_logits(out.reshape(-1), yt.to(out.dtype))
        return nn.functional.cross_entropy(out, yt.long())
    raise TypeError(f"graph() needs a loss tensor, a torch module or a fitted estimator, got {type(model).__name__}")


def graph(model_or_loss, X=None, y=None, *, names: dict[str, torch.Tensor] | None = None,
          path=None) -> str:
    """Graphviz DOT text of the autograd graph of a loss.

    ``model_or_loss``: a tensor with ``grad_fn`` (drawn as is); a ``torch.nn.Module``
    (its output on X, or its logistic / softmax NLL when y is given); an
    ``MLPClassifier`` (its training objective on X, y, penalty included) or a fitted
    ``LogisticRegression`` (z = X Wᵀ + b and its NLL). ``names`` labels extra leaf
    tensors ({"W_h": W_h, ...}); module parameters are labelled by their names.
    Operation nodes are labelled by the forward op (``Addmm``, ``Tanh``, ``Sum``);
    leaves by name and shape; edges run from inputs to the op using them.
    With ``path``, also renders the graph there (see ``render_graph``).
    """
    ids: dict[int, str] = {}
    loss = _loss_of(model_or_loss, X, y, ids)
    ids.update({id(t): n for n, t in (names or {}).items()})
    if loss.grad_fn is None:
        raise DataError("the tensor has no autograd graph (grad_fn is None): compute it from tensors "
                        "with requires_grad=True, outside torch.no_grad()")
    lines = ["digraph autograd {", '  rankdir=TB;', '  node [fontname="Helvetica", fontsize=11];']
    # nodes are told apart by id(): every node object must stay alive while the graph is
    # walked, or a freed id is reused by another node. ``edges`` holds every child, and
    # ``root_fn`` the root
    seen: dict[int, str] = {}
    root_fn = loss.grad_fn
    stack = [root_fn]
    edges: list[tuple[str, str]] = []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        key = seen[id(fn)] = f"n{len(seen)}"
        var = getattr(fn, "variable", None)
        if var is not None:
            label = f"{ids.get(id(var), 'leaf')}\\n{tuple(var.shape)}"
            style = 'shape=box, style="rounded,filled", fillcolor="#cfe2ff"'
        else:
            label = _op_name(fn)
            root = fn is root_fn
            style = f'shape=ellipse, style=filled, fillcolor="{"#ffd8a8" if root else "#eeeeee"}"'
        lines.append(f'  {key} [label="{label}", {style}];')
        for child, _ in fn.next_functions:
            if child is not None:
                stack.append(child)
                edges.append((child, key))
    for child, key in edges:
        lines.append(f"  {seen[id(child)]} -> {key};")
    lines.append("}")
    dot = "\n".join(lines) + "\n"
    if path is not None:
        render_graph(dot, path)
    return dot


def render_graph(dot: str, path) -> Path:
    """Render DOT text to ``path`` (format from the suffix: .svg or .png). Uses Graphviz's
    ``dot`` program when installed, else a layered matplotlib drawing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower() or "png"
    exe = shutil.which("dot")
    if exe:
        subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=dot.encode(), check=True, timeout=60)
        return path
    return _draw_with_matplotlib(dot, path)


def _draw_with_matplotlib(dot: str, path: Path) -> Path:
    from logitkit.interpret._figure import plt, save

    labels, colours, edges = {}, {}, []
    for line in dot.splitlines():
        m = _NODE.match(line)
        if m:
            labels[m.group(1)] = m.group(2).replace("\\n", "\n")
            c = re.search(r'fillcolor="([^"]+)"', m.group(3))
            colours[m.group(1)] = c.group(1) if c else "#eeeeee"
            continue
        e = _EDGE.match(line)
        if e:
            edges.append((e.group(1), e.group(2)))
    # layer = longest path from a source, so every edge points down
    layer = {n: 0 for n in labels}
    for _ in range(len(labels)):
        changed = False
        for a, b in edges:
            if layer[b] < layer[a] + 1:
                layer[b], changed = layer[a] + 1, True
        if not changed:
            break
    rows: dict[int, list[str]] = {}
    for n in labels:
        rows.setdefault(layer[n], []).append(n)
    depth, width = max(rows) + 1, max(len(v) for v in rows.values())
    pos = {}
    for r, members in rows.items():
        for i, n in enumerate(members):
            pos[n] = ((i + 1) / (len(members) + 1), 1 - (r + 0.5) / depth)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.9 * width), max(3.0, 0.9 * depth)))
    for a, b in edges:
        ax.annotate("", xy=pos[b], xytext=pos[a],
                    arrowprops={"arrowstyle": "->", "color": "#555555", "shrinkA": 14, "shrinkB": 14})
    for n, (x, yv) in pos.items():
        ax.text(x, yv, labels[n], ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round,pad=0.35", "facecolor": colours[n], "edgecolor": "#777777"})
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    return save(fig, path)
