#!/usr/bin/python3
"""Example: one streamed chat turn with gemmad, or the session list / daemon status.

    GEMMAD_PROTO_PY=build/python clients/python/chat.py --new "Why is the sky blue?"
    clients/python/chat.py --proto-path build/python --session ID "And at sunset?"
    clients/python/chat.py --proto-path build/python --list
    clients/python/chat.py --proto-path build/python --status

Ctrl-C during a turn cancels it (the partial answer stays in the session) and exits 130.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gemmad_client  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", help="daemon socket (default: as gemmactl finds it: "
                        "$GEMMAD_SOCKET, else where gemmad started by this user listens, "
                        "else /run/gemmad/gemmad.sock)")
    parser.add_argument("--proto-path", help="directory of the generated gemmad_pb2.py "
                        "(default: $GEMMAD_PROTO_PY)")
    parser.add_argument("--app", default="chat.py", help="app name sent in Hello")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--session", default="", help="continue this session")
    group.add_argument("--new", action="store_true", help="start a new session")
    parser.add_argument("--system", default="", help="system prompt of a new session")
    parser.add_argument("--think", action="store_true", help="let the model think first")
    parser.add_argument("--temp", type=float, help="sampling temperature")
    parser.add_argument("-n", "--max-tokens", type=int, help="stop after N tokens")
    parser.add_argument("--list", action="store_true", help="list this app's sessions")
    parser.add_argument("--status", action="store_true", help="show the daemon's status")
    parser.add_argument("text", nargs="?", help="the user's message")
    args = parser.parse_args()
    if not (args.list or args.status or args.text):
        parser.error("give TEXT, --list or --status")

    try:
        client = gemmad_client.Client(args.socket, proto_path=args.proto_path)
    except gemmad_client.DaemonUnreachable as e:
        print("chat.py: %s" % e.message, file=sys.stderr)
        return 3
    with client:
        try:
            client.hello(args.app)
            if args.status:
                status = client.status()
                print("gemmad %s, pid %d, up %.1f s, model %s, %d clients"
                      % (status.daemon_version, status.pid, status.uptime_ms / 1000.0,
                         status.model.name or "(none)", status.clients_connected))
            if args.list:
                for info in client.list_sessions():
                    print("%s  %3d turns  %s" % (info.id, info.turns, info.title))
            if args.text:
                return chat_turn(client, args)
        except gemmad_client.GemmadError as e:
            print("chat.py: %s" % e, file=sys.stderr)
            return 1
    return 0


def chat_turn(client, args):
    stream = client.chat(args.text, session_id=args.session, new_session=args.new,
                         system_prompt=args.system, thinking=args.think,
                         temperature=args.temp, max_tokens=args.max_tokens)
    interrupted = False
    while True:
        try:
            for token in stream:
                sys.stdout.write(token.text)
                sys.stdout.flush()
            break
        except KeyboardInterrupt:
            # Ask the daemon to stop, then keep reading until its Done(CANCELLED).
            if not interrupted:
                interrupted = True
                stream.cancel()
    done = stream.done
    pb = client.pb
    print()
    print("[session %s, %d tokens, %s, %.1f tok/s]"
          % (done.session_id or "-", done.usage.completion_tokens,
             pb.StopReason.Name(done.stop_reason), done.timings.decode_tok_s),
          file=sys.stderr)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
