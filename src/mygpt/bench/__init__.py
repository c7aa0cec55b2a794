"""Measuring mygpt beside itself and its peers: training and sampling throughput of the exact and fast
paths (``throughput``) and sampling against Hugging Face ``generate`` (``hf_sampling``)."""
