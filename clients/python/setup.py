"""Build step of the gemmad Python client: besides gemmad_client.py and gemmad_chat.py it
generates gemmad_pb2.py from the daemon's own ipc/proto/gemmad.proto with protoc, so the
bindings always match the protocol of the checkout they were built from."""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# $GEMMAD_PROTO_DIR: where gemmad.proto is when building outside the repository.
PROTO_DIR = os.path.abspath(os.environ.get("GEMMAD_PROTO_DIR")
                            or os.path.join(HERE, "..", "..", "ipc", "proto"))


class BuildPyWithProto(build_py):
    def run(self):
        super().run()
        proto = os.path.join(PROTO_DIR, "gemmad.proto")
        if not os.path.isfile(proto):
            raise SystemExit("gemmad-client: %s not found (build from a gemmad checkout, or set "
                             "GEMMAD_PROTO_DIR to the directory of gemmad.proto)" % proto)
        protoc = shutil.which("protoc")
        if protoc is None:
            raise SystemExit("gemmad-client: protoc not found (Debian: apt-get install "
                             "protobuf-compiler)")
        os.makedirs(self.build_lib, exist_ok=True)
        subprocess.run([protoc, "--proto_path", os.path.abspath(PROTO_DIR),
                        "--python_out", self.build_lib, "gemmad.proto"], check=True)


setup(py_modules=["gemmad_client", "gemmad_chat"], cmdclass={"build_py": BuildPyWithProto})
