#!/usr/bin/python3
"""Independent reference of the constrained-decoding token mask (docs/CONSTRAINED.md).

A recursive-descent acceptor of *prefixes* of the serializations the JSON Schema subset
allows, written from the documented rules (compact JSON with one optional space after ':' and
','; properties in schema order; bounded number digits; RFC 3629 UTF-8; the Gemma 4 argument
dialect with bare keys and the <|"|> quote symbol, where "<|" may not appear inside a string).
A token is allowed after a prefix iff prefix + token is still a viable prefix. For a small
vocabulary, several schemas and random prefixes (walked by this reference), the masks are
compared with the C++ Matcher's (tests/engine/constrain/mask_dump.cpp). Standard library only.
"""
import argparse
import json
import random
import subprocess
import sys

EOF_ = -1  # "the input ended inside this value": a viable prefix
Q = 256    # the <|"|> symbol

INT_DIGITS, FRAC_DIGITS, EXP_DIGITS = 16, 16, 3


def is_digit(c):
    return 0x30 <= c <= 0x39


class Ref:
    def __init__(self, schema, gemma):
        self.root = schema
        self.gemma = gemma

    # --- combinators: each parser is f(s, i) -> iterable of end positions or EOF_ ---
    def seq(self, s, i, fns):
        if not fns:
            yield i
            return
        for j in fns[0](s, i):
            if j == EOF_:
                yield EOF_
            else:
                yield from self.seq(s, j, fns[1:])

    @staticmethod
    def lit(seq):
        def f(s, i):
            for k, c in enumerate(seq):
                if i + k == len(s):
                    yield EOF_
                    return
                if s[i + k] != c:
                    return
            yield i + len(seq)
        return f

    def ws(self, s, i):
        yield i
        if not self.gemma and i < len(s) and s[i] == 0x20:
            yield i + 1

    def sep(self, ch):
        return lambda s, i: self.seq(s, i, [self.lit([ord(ch)]), self.ws])

    def quote(self):
        return self.lit([Q] if self.gemma else [0x22])

    # --- characters ---
    def utf8_multi(self, s, i):
        """A multi-byte UTF-8 character at i (RFC 3629 table)."""
        b = s[i]
        table = []
        if 0xC2 <= b <= 0xDF:
            table = [(0x80, 0xBF)]
        elif b == 0xE0:
            table = [(0xA0, 0xBF), (0x80, 0xBF)]
        elif 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
            table = [(0x80, 0xBF)] * 2
        elif b == 0xED:
            table = [(0x80, 0x9F), (0x80, 0xBF)]
        elif b == 0xF0:
            table = [(0x90, 0xBF), (0x80, 0xBF), (0x80, 0xBF)]
        elif 0xF1 <= b <= 0xF3:
            table = [(0x80, 0xBF)] * 3
        elif b == 0xF4:
            table = [(0x80, 0x8F), (0x80, 0xBF), (0x80, 0xBF)]
        else:
            return None
        for k, (lo, hi) in enumerate(table):
            j = i + 1 + k
            if j == len(s):
                return EOF_
            if not lo <= s[j] <= hi:
                return None
        return i + 1 + len(table)

    def char(self, s, i, after_lt):
        """One string character at i: its end, EOF_, or None."""
        if i == len(s):
            return EOF_
        b = s[i]
        if b >= 0x80:
            return self.utf8_multi(s, i) if b <= 0xFF else None
        if self.gemma:
            if b in (0x0A, 0x09) or 0x20 <= b <= 0x7F:
                if after_lt and b == ord("|"):
                    return None
                return i + 1
            return None
        if b == 0x5C:  # backslash
            if i + 1 == len(s):
                return EOF_
            e = s[i + 1]
            if e in set(b'"\\/bfnrt'):
                return i + 2
            if e != ord("u"):
                return None
            for k in range(4):
                j = i + 2 + k
                if j == len(s):
                    return EOF_
                if not chr(s[j]) in "0123456789abcdefABCDEF":
                    return None
            return i + 6
        if 0x20 <= b <= 0x7F and b != 0x22:
            return i + 1
        return None

    def string(self, lo=0, hi=None):
        def f(s, i):
            for j in self.quote()(s, i):
                if j == EOF_:
                    yield EOF_
                    return
                n, after_lt = 0, False
                while True:
                    if n >= lo:
                        yield from self.quote()(s, j)
                    if hi is not None and n == hi:
                        return
                    k = self.char(s, j, after_lt)
                    if k is None:
                        return
                    if k == EOF_:
                        yield EOF_
                        return
                    after_lt = self.gemma and s[j] == ord("<")
                    j, n = k, n + 1
        return f

    # --- numbers ---
    def digits(self, s, i, lo, hi):
        """End positions after lo..hi digits (EOF_ when the input ends where more may come)."""
        n = 0
        while True:
            if n >= lo:
                yield i
            if n == hi:
                return
            if i == len(s):
                yield EOF_
                return
            if not is_digit(s[i]):
                return
            i, n = i + 1, n + 1

    def number(self, integer):
        def int_part(s, i):
            if i == len(s):
                yield EOF_
                return
            if s[i] == ord("-"):
                i += 1
                if i == len(s):
                    yield EOF_
                    return
            if s[i] == ord("0"):
                yield i + 1
            elif 0x31 <= s[i] <= 0x39:
                yield from self.digits(s, i + 1, 0, INT_DIGITS - 1)

        def opt(parser):
            def f(s, i):
                yield i
                yield from parser(s, i)
            return f

        frac = lambda s, i: self.seq(s, i, [self.lit([ord(".")]),
                                           lambda s2, j: self.digits(s2, j, 1, FRAC_DIGITS)])

        def exp(s, i):
            if i == len(s):
                yield EOF_
                return
            if s[i] not in set(b"eE"):
                return
            i += 1
            if i == len(s):
                yield EOF_
                return
            if s[i] in set(b"+-"):
                i += 1
            yield from self.digits(s, i, 1, EXP_DIGITS)

        if integer:
            return int_part
        return lambda s, i: self.seq(s, i, [int_part, opt(frac), opt(exp)])

    # --- values ---
    def literal(self, v):
        if not self.gemma:
            return self.lit(list(json.dumps(v, separators=(",", ":"),
                                            ensure_ascii=False).encode()))
        return self.lit(self.gemma_literal(v))

    def gemma_literal(self, v):
        if isinstance(v, str):
            return [Q] + list(v.encode()) + [Q]
        if isinstance(v, dict):
            out = [ord("{")]
            for n, (k, x) in enumerate(v.items()):
                if n:
                    out.append(ord(","))
                out += list((k + ":").encode()) + self.gemma_literal(x)
            return out + [ord("}")]
        if isinstance(v, list):
            out = [ord("[")]
            for n, x in enumerate(v):
                if n:
                    out.append(ord(","))
                out += self.gemma_literal(x)
            return out + [ord("]")]
        return list(json.dumps(v).encode())

    def repeat(self, item, lo, hi):
        def f(s, i, n=0):
            if n >= lo:
                yield i
            if hi is not None and n == hi:
                return
            fns = [item] if n == 0 else [self.sep(","), item]
            for j in self.seq(s, i, fns):
                if j == EOF_:
                    yield EOF_
                else:
                    yield from f(s, j, n + 1)
        return f

    def bare_key(self, s, i):
        if i == len(s):
            yield EOF_
            return
        c = s[i]
        if not (chr(c).isascii() and (chr(c).isalpha() or c == ord("_"))) or c > 0x7F:
            return
        i += 1
        while True:
            yield i
            if i == len(s):
                yield EOF_
                return
            c = s[i]
            if c > 0x7F or not (chr(c).isalnum() or c == ord("_")):
                return
            i += 1

    def any_object(self, value):
        key = self.bare_key if self.gemma else self.string()
        pair = lambda s, i: self.seq(s, i, [key, self.sep(":"), value])
        return lambda s, i: self.seq(s, i, [self.lit([ord("{")]), self.repeat(pair, 0, None),
                                            self.lit([ord("}")])])

    def any_value(self, s, i):
        arr = lambda s2, j: self.seq(s2, j, [self.lit([ord("[")]),
                                            self.repeat(self.any_value, 0, None),
                                            self.lit([ord("]")])])
        for p in (self.any_object(self.any_value), arr, self.string(), self.number(False),
                  self.lit(list(b"true")), self.lit(list(b"false")), self.lit(list(b"null"))):
            yield from p(s, i)

    def key(self, name):
        if self.gemma:
            return self.lit(list(name.encode()))
        return self.lit(list(json.dumps(name, ensure_ascii=False).encode()))

    def obj(self, node):
        props = list(node.get("properties", {}).items())
        req = set(node.get("required", []))
        ap = node.get("additionalProperties", None)
        if not props and ap is not False:
            value = self.value(ap) if isinstance(ap, dict) else self.any_value
            return self.any_object(value)

        def rest(s, i, k, first):
            if k == len(props):
                yield i
                return
            name, sub = props[k]
            if name not in req:
                yield from rest(s, i, k + 1, first)
            fns = ([] if first else [self.sep(",")]) + [self.key(name), self.sep(":"),
                                                        self.value(sub)]
            for j in self.seq(s, i, fns):
                if j == EOF_:
                    yield EOF_
                else:
                    yield from rest(s, j, k + 1, False)

        return lambda s, i: self.seq(s, i, [self.lit([ord("{")]),
                                            lambda s2, j: rest(s2, j, 0, True),
                                            self.lit([ord("}")])])

    def value(self, node):
        def f(s, i):
            yield from self.value_at(node, s, i)
        return f

    def value_at(self, node, s, i):
        if node is True or node == {}:
            yield from self.any_value(s, i)
            return
        if "$ref" in node:
            target = self.root
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            yield from self.value_at(target, s, i)
            return
        for kw in ("anyOf", "oneOf"):
            if kw in node:
                for sub in node[kw]:
                    yield from self.value_at(sub, s, i)
                return
        if "const" in node:
            yield from self.literal(node["const"])(s, i)
            return
        if "enum" in node:
            for v in node["enum"]:
                yield from self.literal(v)(s, i)
            return
        types = node.get("type")
        if types is None:
            types = []
            if any(k in node for k in ("properties", "required", "additionalProperties")):
                types.append("object")
            if any(k in node for k in ("items", "minItems", "maxItems")):
                types.append("array")
            if any(k in node for k in ("minLength", "maxLength")):
                types.append("string")
            if not types:
                yield from self.any_value(s, i)
                return
        if isinstance(types, str):
            types = [types]
        for t in types:
            if t == "object":
                yield from self.obj(node)(s, i)
            elif t == "array":
                item = self.value(node.get("items", True))
                yield from self.seq(s, i, [self.lit([ord("[")]),
                                           self.repeat(item, node.get("minItems", 0),
                                                       node.get("maxItems")),
                                           self.lit([ord("]")])])
            elif t == "string":
                yield from self.string(node.get("minLength", 0), node.get("maxLength"))(s, i)
            elif t in ("number", "integer"):
                yield from self.number(t == "integer")(s, i)
            elif t == "boolean":
                yield from self.lit(list(b"true"))(s, i)
                yield from self.lit(list(b"false"))(s, i)
            elif t == "null":
                yield from self.lit(list(b"null"))(s, i)

    def viable(self, s):
        for j in self.value_at(self.root, s, 0):
            if j == EOF_ or j == len(s):
                return True
        return False

    def mask(self, vocab_syms, prefix):
        return [t for t, syms in enumerate(vocab_syms) if self.viable(prefix + syms)]


VOCAB = ['{', '}', '[', ']', ',', ':', ' ', '"', '{"', '":', '",', '"}', '":"', ', "', '<|"|>',
         'a', 'b', 'ab', 'name', 'age', 'tags', 'x', 'é', '\\xe2', '\\x82', '\\xac', 'true', 'false',
         'null', 'tru', '0', '1', '12', '-', '.', '5e', 'e', '+', '3', '\\', '\\n', '\\u00', 'e9',
         '<', '|', '<|', 'red', 'blue', '"red"', '\n', '{name:', ',age:', 'nam', 'e:']

SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 4},
                                      "age": {"type": "integer"},
                                      "tags": {"type": "array", "items": {"enum": ["red", "blue"]},
                                               "maxItems": 2}},
     "required": ["name"]},
    {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3},
    {"anyOf": [{"type": "string", "minLength": 2}, {"type": "boolean"}, {"type": "null"}]},
    {"$defs": {"t": {"type": "object", "properties": {"x": {"type": "integer"},
                                                      "a": {"type": "array",
                                                            "items": {"$ref": "#/$defs/t"}}}}},
     "$ref": "#/$defs/t"},
    {},
    {"type": "object", "additionalProperties": {"type": "boolean"}},
    # Long enough bounds that the matcher's mask swaps counts for canonical ones.
    {"type": "array", "items": {"type": "string", "minLength": 7, "maxLength": 15},
     "maxItems": 2},
]


def syms_of(text):
    """A token's symbols: <|"|> is Q; "\\xHH" spells one raw byte (for partial UTF-8)."""
    if text == '<|"|>':
        return [Q]
    if text.startswith("\\x") and len(text) == 4:
        return [int(text[2:], 16)]
    return list(text.encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mask-dump", required=True)
    ap.add_argument("--walks", type=int, default=8)
    args = ap.parse_args()
    vocab_syms = [syms_of(t) for t in VOCAB]
    rng = random.Random(7)
    failures = 0
    checked = 0
    for dialect in ("json", "gemma"):
        for si, schema in enumerate(SCHEMAS):
            ref = Ref(schema, dialect == "gemma")
            prefixes = [[]]
            for _ in range(args.walks):
                p, syms = [], []
                for _ in range(rng.randrange(1, 14)):
                    allowed = ref.mask(vocab_syms, syms)
                    if not allowed:
                        break
                    t = rng.choice(allowed)
                    p.append(t)
                    syms = syms + vocab_syms[t]
                    prefixes.append(list(p))
            req = {"vocab": vocab_syms, "dialect": dialect, "schema": schema,
                   "prefixes": prefixes}
            data = json.dumps(req).encode()
            run = subprocess.run([args.mask_dump], input=data, capture_output=True, check=False)
            out = json.loads(run.stdout)
            if "error" in out:
                print(f"{dialect} schema {si}: C++ error {out['error']}")
                failures += 1
                continue
            for prefix, got in zip(prefixes, out["masks"]):
                syms = [x for t in prefix for x in vocab_syms[t]]
                want = ref.mask(vocab_syms, syms)
                checked += 1
                if got != want:
                    failures += 1
                    text = [VOCAB[t] for t in prefix]
                    extra = [VOCAB[t] for t in sorted(set(got or []) - set(want))]
                    missing = [VOCAB[t] for t in sorted(set(want) - set(got or []))]
                    print(f"{dialect} schema {si} prefix {text!r}: C++ also allows {extra!r}, "
                          f"misses {missing!r}")
    print(f"{checked} masks compared, {failures} differ")
    sys.exit(1 if failures or checked == 0 else 0)


if __name__ == "__main__":
    main()
