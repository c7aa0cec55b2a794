"""Models in other programs' formats: Hugging Face GPT-2 directories (``hf``, needs ``mygpt[hf]``)."""
