"""Ch.22: classic word-level BPE (Sennrich et al.) by hand, with an end-of-word marker."""

import itertools
from collections import Counter

CORPUS = "low low low low low lower newer newer newer newer wider"


def count_pairs(vocab: dict[tuple[str, ...], int]) -> Counter:
    pairs = Counter()
    for word, freq in vocab.items():
        for pair in itertools.pairwise(word):
            pairs[pair] += freq
    return pairs


def merge_word(word: tuple[str, ...], a: str, b: str) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(word):
        if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def show(vocab: dict[tuple[str, ...], int]) -> None:
    for word, freq in vocab.items():
        print(f"  {freq}: {' '.join(word)}")


vocab = dict(Counter(tuple(word) + ("</w>",) for word in CORPUS.split()))
print("Initial vocab:")
show(vocab)
print()

for step in range(1, 11):
    pairs = count_pairs(vocab)
    a, b = max(pairs, key=pairs.get)
    print(f"Step {step}: merge ({a!r}, {b!r}) -> {a + b!r}  (freq={pairs[a, b]})")
    vocab = {merge_word(word, a, b): freq for word, freq in vocab.items()}
print()

print("Final vocab:")
show(vocab)
