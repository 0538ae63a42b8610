// Package translation holds the data and metrics of the translation suite:
// a loader of parallel text (two aligned files or one TSV file), the
// default English-Spanish corpus exported from Debian's SWORD Bible modules,
// a deterministic character-level BPE subword tokenizer, and corpus BLEU
// computed exactly as sacreBLEU computes it (13a tokenizer, exponential
// brevity penalty, "exp" smoothing by default).
package translation
