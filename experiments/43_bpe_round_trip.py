"""Ch.23: encode and decode a line of Shakespeare with the trained BPE tokenizer."""

from mygpt import BPETokenizer

tok = BPETokenizer.load("shakespeare.bpe.json")
sample = "First Citizen:\nBefore we proceed any further, hear me speak.\n"
ids = tok.encode(sample).tolist()

print(f"sample chars:  {len(sample)}")
print(f"encoded ids:   {len(ids)}")
print(f"compression:   {len(sample) / len(ids):.2f}x")
print(f"round-trip ok: {tok.decode(ids) == sample}")
print()
print("First 20 ids decoded as their token strings:")
for i, token_id in enumerate(ids[:20]):
    print(f"  {i:>2}: id={token_id:>3}  symbol={tok.vocab[token_id]!r}")
