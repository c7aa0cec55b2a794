"""Where training tokens come from: text files and the built-in corpus (``corpus``), and corpora
bigger than memory, tokenized once into shards (``prepare``) and read back window by window (``shards``)."""
