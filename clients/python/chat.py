#!/usr/bin/python3
"""Example: one streamed chat turn with gemmad, or the session list / daemon status, run from
a checkout (the same program as the installed gemmad-chat; see gemmad_chat.py).

    GEMMAD_PROTO_PY=build/python clients/python/chat.py --new "Why is the sky blue?"
    clients/python/chat.py --proto-path build/python --session ID "And at sunset?"
    clients/python/chat.py --proto-path build/python --list
    clients/python/chat.py --proto-path build/python --status
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gemmad_chat  # noqa: E402

if __name__ == "__main__":
    gemmad_chat.main_exit("chat.py")
