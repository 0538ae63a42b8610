"""Regenerates sacrebleu_golden.json from sacreBLEU's own code.

Run with sacreBLEU importable (pip install sacrebleu, or its source tree on
PYTHONPATH): python3 gen_sacrebleu.py > sacrebleu_golden.json

The golden file pins Tokenize13a and CorpusBLEU to sacreBLEU's outputs on
random text (fixed seed) full of the cases the 13a rules treat specially.
"""
import json
import random

from sacrebleu.metrics import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

rng = random.Random(20260127)
PIECES = ["the", "The", "cat", "CAT", "sat", "on", "mat", "dog", "3", "14", "1,000", "2.5",
          ".", ",", "-", "--", "'", '"', "!", "?", "(", ")", "[", "]", "{", "}", "$", "%",
          "&", "&quot;", "&amp;", "&lt;", "&gt;", "&apos;", "<skipped>", "-\n", "\n", "\t",
          "  ", " ", "é", "ţ", "zahăr", "ΣΟΦΟΣ", "Σ", "İstanbul", "ß", "\u00a0", "\x1c",
          "\u2028", "\x85", "東京", "a/b", "e.g.", "U.S.A.", "x-3", "3-x", "a.b,c", "...", ",,",
          "@", "#", "^", "_", "`", "|", "~", "\\", "+", "=", "<", ">", ":", ";"]
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "bit", "man", "The", "Dog", "It", "was",
         "not", ".", ",", "!", "3.5", "1,000", "-", "(", ")", "wasn't", "é"]


def rand_line(pieces, lo, hi, sep):
    return sep.join(rng.choice(pieces) for _ in range(rng.randint(lo, hi)))


tok = Tokenizer13a()
lines = [rand_line(PIECES, 0, 12, rng.choice(["", " "])) for _ in range(400)]
tokens = [[l, tok(l)] for l in lines]
lowers = [[l, l.lower()] for l in lines]

corpora = []
for c in range(40):
    n = rng.randint(1, 6)
    nrefs = rng.randint(1, 3)
    refs = [[rand_line(WORDS, 0, 14, " ") for _ in range(n)] for _ in range(nrefs)]
    hyps = []
    for i in range(n):
        if rng.random() < 0.5:  # a perturbed reference, so n-grams match
            w = refs[0][i].split()
            w = [x for x in w if rng.random() > 0.2]
            if w and rng.random() < 0.5:
                w[rng.randrange(len(w))] = rng.choice(WORDS)
            hyps.append(" ".join(w))
        else:
            hyps.append(rand_line(WORDS, 0, 14, " "))
    lower = rng.random() < 0.4
    score = BLEU(lowercase=lower).corpus_score(hyps, refs)
    corpora.append({"hyps": hyps, "refs": refs, "lowercase": lower,
                    "score": score.score, "line": str(score)})

print(json.dumps({"source": "sacreBLEU (github.com/mjpost/sacrebleu), Apache-2.0",
                  "tokenize13a": tokens, "lower": lowers, "corpus_bleu": corpora}, ensure_ascii=False, indent=0))
