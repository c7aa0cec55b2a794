"""Seeing what a model does: held-out evaluation (``evaluate``), the attention weights it computes
(``attention_weights``), what a checkpoint holds (``model_card``) and figures (``plots``, needs
``mygpt[plot]``)."""
