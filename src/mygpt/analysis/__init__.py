"""Seeing what a model does: held-out evaluation (``evaluate``), the attention weights it computes
(``attention_weights``) and figures of both (``plots``, needs ``mygpt[plot]``)."""
