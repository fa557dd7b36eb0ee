#!/usr/bin/python3
"""Time to first token and decode tok/s of one greedy raw completion through gemmad's two
front-ends: the protobuf socket (clients/python) and the OpenAI-compatible HTTP socket
(POST /v1/completions, stream: true). Runs alternate (protobuf, HTTP, protobuf, HTTP, ...);
each request's prompt carries its run number, so none reuses another's cached KV.
Client-side clocks: TTFT = request sent -> first non-empty text; decode tok/s =
(tokens - 1) / (last text - first text). docs/PERFORMANCE.md "HTTP overhead".

    bench/http_overhead.py --socket S --http-socket H --proto-path BUILD/python \\
        --client-dir clients/python [--tokens 32] [--runs 4] [--prompt TEXT]
"""

import argparse
import http.client
import json
import socket
import statistics
import sys
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("gemmad", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def run_http(path, prompt, tokens):
    conn = UnixHTTPConnection(path)
    body = json.dumps({"prompt": prompt, "max_tokens": tokens, "temperature": 0,
                       "stream": True, "stream_options": {"include_usage": True}})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json",
                                                    "X-Gemmad-App": "bench-http"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    first = last = None
    usage = None
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            usage = chunk["usage"]
        if chunk["choices"] and chunk["choices"][0]["text"]:
            now = time.perf_counter()
            first = first or now
            last = now
    conn.close()
    return first - t0, usage["completion_tokens"], last - first


def run_protobuf(client, prompt, tokens):
    t0 = time.perf_counter()
    stream = client.generate(prompt, raw=True, temperature=0.0, max_tokens=tokens)
    first = last = None
    for token in stream:
        if token.text:
            now = time.perf_counter()
            first = first or now
            last = now
    return first - t0, stream.done.usage.completion_tokens, last - first


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--http-socket", required=True)
    p.add_argument("--proto-path", required=True)
    p.add_argument("--client-dir", required=True)
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--prompt", default="The history of the printing press begins")
    a = p.parse_args()
    sys.path.insert(0, a.client_dir)
    import gemmad_client
    gemmad_client.load_proto(a.proto_path)
    results = {"protobuf": [], "http": []}
    with gemmad_client.Client(a.socket) as c:
        c.hello("bench-protobuf")
        for i in range(a.runs):
            for front in ("protobuf", "http"):
                prompt = "%d%s. %s" % (i, front[0], a.prompt)
                r = (run_protobuf(c, prompt, a.tokens) if front == "protobuf"
                     else run_http(a.http_socket, prompt, a.tokens))
                results[front].append(r)
                ttft, n, decode_s = r
                print("run %d %-8s ttft %7.1f ms  %3d tokens  decode %6.1f tok/s"
                      % (i, front, ttft * 1000, n, (n - 1) / decode_s if decode_s else 0))
    for front, rs in results.items():
        ttft = statistics.median(r[0] for r in rs) * 1000
        tps = statistics.median((r[1] - 1) / r[2] for r in rs if r[2] > 0)
        print("median %-8s ttft %7.1f ms  decode %6.1f tok/s" % (front, ttft, tps))


if __name__ == "__main__":
    main()
