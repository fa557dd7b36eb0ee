"""gemmad_client: a Python client of the gemmad socket protocol (ipc/proto/gemmad.proto).

Runs with Debian's /usr/bin/python3 and python3-protobuf. The protobuf bindings
(gemmad_pb2.py) are generated at build time into <build>/python; point the environment
variable GEMMAD_PROTO_PY at that directory, or pass proto_path to Client / load_proto().

    with Client() as c:                       # socket path per resolve_socket_path()
        c.hello("my-app")
        stream = c.chat("Why is the sky blue?", new_session=True)
        for token in stream:
            print(token.text, end="", flush=True)
        print(stream.done.session_id)

Framing: a 4-byte big-endian length, then one serialized ClientMessage / ServerMessage.
Errors from the daemon raise GemmadError (code = the wire ErrorCode name, e.g.
"ERROR_CODE_NOT_FOUND"); a daemon that cannot be reached raises DaemonUnreachable.
"""

import importlib
import json
import os
import select
import socket
import stat
import struct
import sys
import time

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME_BYTES = 4 << 20
SYSTEM_SOCKET_PATH = "/run/gemmad/gemmad.sock"
USER_SOCKET_NAME = "gemmad.sock"
CLIENT_VERSION = "gemmad_client.py 0.1.0"

_HEADER = struct.Struct(">I")
_pb = None


def load_proto(proto_path=None):
    """Imports gemmad_pb2 from proto_path, else $GEMMAD_PROTO_PY, else sys.path."""
    global _pb
    if _pb is not None:
        return _pb
    directory = proto_path or os.environ.get("GEMMAD_PROTO_PY")
    if directory:
        directory = os.path.abspath(directory)
        if not os.path.isfile(os.path.join(directory, "gemmad_pb2.py")):
            raise ImportError(
                "no gemmad_pb2.py in %s (build the gemmad_proto_py target; it is "
                "generated into <build>/python)" % directory)
        if directory not in sys.path:
            sys.path.insert(0, directory)
    try:
        _pb = importlib.import_module("gemmad_pb2")
    except ImportError as e:
        # Installed clients (pip, python3-gemmad) ship gemmad_pb2 beside this module; a
        # checkout has it only after a build.
        raise ImportError(
            "the protobuf bindings gemmad_pb2 cannot be imported (%s): install the client "
            "(pip install clients/python, or the python3-gemmad package), or point "
            "GEMMAD_PROTO_PY at <build>/python" % e) from None
    return _pb


def default_listen_path():
    """Where a gemmad started by this user in this environment listens unless told
    (ipc/socket_path.h, the rule gemmad and gemmactl share): $GEMMAD_SOCKET; as root the
    system socket; else $XDG_RUNTIME_DIR/gemmad.sock; else /tmp/gemmad-UID.sock."""
    env = os.environ.get("GEMMAD_SOCKET")
    if env:
        return env
    if os.geteuid() == 0:
        return SYSTEM_SOCKET_PATH
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, USER_SOCKET_NAME)
    return f"/tmp/gemmad-{os.geteuid()}.sock"


def resolve_socket_path(flag=None):
    """--socket, then $GEMMAD_SOCKET, then the first existing of default_listen_path() and the
    system socket; neither existing: default_listen_path(), the likeliest place."""
    if flag:
        return flag
    own = default_listen_path()
    if os.environ.get("GEMMAD_SOCKET") or _is_socket(own):
        return own
    if _is_socket(SYSTEM_SOCKET_PATH):
        return SYSTEM_SOCKET_PATH
    return own


def _is_socket(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


class GemmadError(Exception):
    """An Error reply of the daemon (or a broken connection, code "IO")."""

    def __init__(self, code, message, request_id=0):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.request_id = request_id


class DaemonUnreachable(GemmadError):
    """connect() failed: no daemon listens at the path (gemmactl's exit code 3)."""


class Stream:
    """Tokens of one ChatRequest / GenerateRequest. Iterate for Token messages; afterwards
    .done holds the Done message. Raises GemmadError if the stream ends with an Error."""

    def __init__(self, client, request_id):
        self.client = client
        self.request_id = request_id
        self.done = None
        self.text = ""  # the answer channel's text, as it streamed

    def __iter__(self):
        while self.done is None:
            message = self.client._read_for(self.request_id)
            body = message.WhichOneof("body")
            if body == "token":
                if message.token.channel == self.client.pb.CHANNEL_ANSWER:
                    self.text += message.token.text
                yield message.token
            elif body == "done":
                self.done = message.done
            elif body == "error":
                raise _error_of(message)
            else:
                raise GemmadError("INTERNAL", "gemmad sent %s in the stream of request %d"
                                  % (body, self.request_id), self.request_id)

    def cancel(self):
        """Asks the daemon to stop; keep iterating to receive Done(STOP_REASON_CANCELLED)."""
        self.client.cancel(self.request_id)

    def result(self):
        """Reads the rest of the stream; returns self (for c.chat(...).result().tool_calls)."""
        for _ in self:
            pass
        return self

    @property
    def reasoning(self):
        """The thought channel's text (thinking on); never part of .text."""
        return self.done.reasoning if self.done is not None else ""

    @property
    def tool_calls(self):
        """The reply's calls as [{"id", "name", "arguments"}], arguments the parsed object."""
        if self.done is None:
            return []
        return [{"id": c.id, "name": c.name, "arguments": json.loads(c.arguments_json)}
                for c in self.done.tool_calls]

    @property
    def stop_reason(self):
        """"tool_calls", "tool_call_invalid", "stop_token", ... (StopReason without its prefix)."""
        if self.done is None:
            return None
        return self.client.pb.StopReason.Name(self.done.stop_reason)[len("STOP_REASON_"):].lower()


def _error_of(message):
    pb = load_proto()
    return GemmadError(pb.ErrorCode.Name(message.error.code), message.error.message,
                       message.request_id)


class Client:
    """One connection to gemmad. Not thread-safe."""

    def __init__(self, path=None, proto_path=None, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES):
        self.pb = load_proto(proto_path)
        self.path = resolve_socket_path(path)
        self.max_frame_bytes = max_frame_bytes
        self.server_hello = None
        self._next_id = 1
        self._buffer = bytearray()
        self._pending = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(self.path)
        except OSError as e:
            self._sock.close()
            raise DaemonUnreachable("UNREACHABLE", "cannot reach gemmad at %s: %s"
                                    % (self.path, e.strerror or e)) from e

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._sock.close()

    # -- frames ---------------------------------------------------------------------------

    def send(self, message):
        """Sends a ClientMessage; request_id 0 gets the next automatic id. Returns the id."""
        if message.request_id == 0:
            message.request_id = self._next_id
            self._next_id += 1
        payload = message.SerializeToString()
        if len(payload) > self.max_frame_bytes:
            raise GemmadError("TOO_LARGE", "ClientMessage of %d bytes is over the frame limit "
                              "of %d bytes" % (len(payload), self.max_frame_bytes))
        try:
            self._sock.sendall(_HEADER.pack(len(payload)) + payload)
        except OSError as e:
            raise GemmadError("IO", "sending to gemmad failed: %s" % e) from None
        return message.request_id

    def recv(self, timeout=None):
        """The next ServerMessage of any request; None if `timeout` seconds pass first."""
        if self._pending:
            return self._pending.pop(0)
        return self._read_frame(timeout)

    def _read_frame(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if len(self._buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self._buffer)
                if size > self.max_frame_bytes:
                    raise GemmadError("PROTOCOL", "frame length %d bytes from gemmad is over "
                                      "the limit of %d bytes" % (size, self.max_frame_bytes))
                if len(self._buffer) >= _HEADER.size + size:
                    payload = bytes(self._buffer[_HEADER.size:_HEADER.size + size])
                    del self._buffer[:_HEADER.size + size]
                    message = self.pb.ServerMessage()
                    message.ParseFromString(payload)
                    return message
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                readable, _, _ = select.select([self._sock], [], [], left)
                if not readable:
                    return None
            try:
                chunk = self._sock.recv(65536)
            except OSError as e:
                raise GemmadError("IO", "reading from gemmad failed: %s" % e) from None
            if not chunk:
                raise GemmadError("IO", "gemmad closed the connection")
            self._buffer += chunk

    def _read_for(self, request_id):
        """The next message for request_id (or connection-level, id 0); others are kept."""
        for i, message in enumerate(self._pending):
            if message.request_id in (request_id, 0):
                return self._pending.pop(i)
        while True:
            message = self._read_frame()
            if message.request_id in (request_id, 0):
                return message
            self._pending.append(message)

    def _request(self, message, expected):
        request_id = self.send(message)
        reply = self._read_for(request_id)
        body = reply.WhichOneof("body")
        if body == "error":
            raise _error_of(reply)
        if body != expected:
            raise GemmadError("INTERNAL", "gemmad answered request %d with %s, expected %s"
                              % (request_id, body, expected), request_id)
        return getattr(reply, expected)

    # -- requests -------------------------------------------------------------------------

    def hello(self, app_name, client_version=CLIENT_VERSION):
        """Must be the first request. Returns HelloReply (model, limits)."""
        message = self.pb.ClientMessage()
        message.hello.app_name = app_name
        message.hello.client_version = client_version
        message.hello.protocol_version = PROTOCOL_VERSION
        self.server_hello = self._request(message, "hello_reply")
        if self.server_hello.limits.max_frame_bytes > self.max_frame_bytes:
            self.max_frame_bytes = self.server_hello.limits.max_frame_bytes
        return self.server_hello

    def _add_media(self, request, images, audio):
        """images / audio: bytes of PNG/JPEG and WAV files (or (bytes, token_budget) for an
        image), placed before the text; the daemon decodes and checks them."""
        for image in images or ():
            data, budget = image if isinstance(image, tuple) else (image, 0)
            part = request.media.add()
            part.kind = self.pb.MEDIA_KIND_IMAGE
            part.data = bytes(data)
            part.image_token_budget = budget
        for clip in audio or ():
            part = request.media.add()
            part.kind = self.pb.MEDIA_KIND_AUDIO
            part.data = bytes(clip)

    def chat(self, user_text="", session_id="", new_session=False, system_prompt="",
             thinking=False, title="", images=None, audio=None, tools=None, tool_choice=None,
             response_format=None, thinking_budget=None, stop=None, tool_results=None,
             **sampling):
        """One stored chat turn. Sampling keywords: temperature, top_k, top_p, min_p,
        repeat_penalty, seed, max_tokens, ignore_eos. images / audio: lists of file bytes
        (see _add_media). Tools, JSON output, thinking: see _set_tool_fields. Returns a
        Stream (its .text, .reasoning, .tool_calls once read)."""
        message = self.pb.ClientMessage()
        chat = message.chat
        self._add_media(chat, images, audio)
        chat.user_text = user_text
        chat.session_id = session_id
        chat.new_session = new_session
        chat.system_prompt = system_prompt
        chat.thinking = thinking
        chat.title = title
        _set_sampling(chat.sampling, sampling)
        self._set_tool_fields(chat, tools, tool_choice, response_format, thinking_budget, stop)
        for r in tool_results or ():
            _add_tool_result(chat.tool_results.add(), r)
        return Stream(self, self.send(message))

    def _set_tool_fields(self, request, tools, tool_choice, response_format, thinking_budget,
                         stop):
        """tools: declarations as OpenAI sends them ({"type": "function", "function": {...}})
        or plain {"name", "description", "parameters"}. tool_choice: "auto", "none",
        "required", a tool name, or {"type": "function", "function": {"name": ...}}.
        response_format: "text", "json_object", {"type": "json_object"} or {"type":
        "json_schema", "json_schema": {"schema": {...}}}. stop: a string or up to 4."""
        pb = self.pb
        for t in tools or ():
            fn = t.get("function", t)
            decl = request.tools.add()
            decl.name = fn["name"]
            decl.description = fn.get("description", "")
            if fn.get("parameters") is not None:
                decl.parameters_json = json.dumps(fn["parameters"])
        if isinstance(tool_choice, dict):
            tool_choice = tool_choice["function"]["name"]
        modes = {None: pb.TOOL_CHOICE_AUTO, "auto": pb.TOOL_CHOICE_AUTO,
                 "none": pb.TOOL_CHOICE_NONE, "required": pb.TOOL_CHOICE_REQUIRED}
        if tool_choice in modes:
            request.tool_choice.mode = modes[tool_choice]
        else:
            request.tool_choice.mode = pb.TOOL_CHOICE_FUNCTION
            request.tool_choice.function = tool_choice
        if isinstance(response_format, str):
            response_format = {"type": response_format}
        kind = (response_format or {"type": "text"}).get("type")
        if kind == "json_object":
            request.response_format.type = pb.RESPONSE_FORMAT_JSON_OBJECT
        elif kind == "json_schema":
            request.response_format.type = pb.RESPONSE_FORMAT_JSON_SCHEMA
            request.response_format.schema_json = json.dumps(
                response_format["json_schema"]["schema"])
        elif kind != "text":
            raise ValueError("response_format type %r is not text, json_object or json_schema"
                             % (kind,))
        if thinking_budget is not None:
            request.thinking_budget = thinking_budget
        if isinstance(stop, str):
            stop = [stop]
        request.sampling.stop.extend(stop or ())

    def generate(self, prompt, raw=False, images=None, audio=None, **sampling):
        """A raw completion (not stored). Returns a Stream."""
        message = self.pb.ClientMessage()
        self._add_media(message.generate, images, audio)
        message.generate.prompt = prompt
        message.generate.raw = raw
        _set_sampling(message.generate.sampling, sampling)
        return Stream(self, self.send(message))

    def cancel(self, request_id):
        """Sends Cancel for request_id (its Ack is read by whoever reads next)."""
        message = self.pb.ClientMessage()
        message.cancel.target_request_id = request_id
        return self.send(message)

    def list_sessions(self, limit=0):
        message = self.pb.ClientMessage()
        message.list_sessions.limit = limit
        return list(self._request(message, "session_list").sessions)

    def show_session(self, session_id):
        message = self.pb.ClientMessage()
        message.show_session.session_id = session_id
        return self._request(message, "session_detail")

    def delete_session(self, session_id):
        message = self.pb.ClientMessage()
        message.delete_session.session_id = session_id
        self._request(message, "ack")

    def export_session(self, session_id, format="json"):
        message = self.pb.ClientMessage()
        message.export_session.session_id = session_id
        message.export_session.format = format
        return self._request(message, "session_export")

    def status(self):
        message = self.pb.ClientMessage()
        message.status.SetInParent()
        return self._request(message, "status_reply")

    def tokenize(self, text, add_bos=False, special=False):
        message = self.pb.ClientMessage()
        message.tokenize.text = text
        message.tokenize.add_bos = add_bos
        message.tokenize.special = special
        return list(self._request(message, "tokenize_reply").ids)

    def detokenize(self, ids):
        message = self.pb.ClientMessage()
        message.detokenize.ids.extend(ids)
        return self._request(message, "detokenize_reply").text


_SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed",
                    "max_tokens", "ignore_eos")


def _set_sampling(target, sampling):
    for name, value in sampling.items():
        if name not in _SAMPLING_FIELDS:
            raise TypeError("unknown sampling parameter %r (known: %s)"
                            % (name, ", ".join(_SAMPLING_FIELDS)))
        if value is not None:
            setattr(target, name, value)


def _add_tool_result(target, result):
    """A result of the previous turn's call: (call_id, content) or {"call_id" (or
    "tool_call_id"), "content", "name"}; content that is not a string is sent as JSON."""
    if isinstance(result, dict):
        call_id = result.get("call_id", result.get("tool_call_id", ""))
        content, name = result.get("content", ""), result.get("name", "")
    else:
        (call_id, content), name = result, ""
    target.call_id = call_id
    target.name = name
    target.content = content if isinstance(content, str) else json.dumps(content)
