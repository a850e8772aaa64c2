"""A real fieldloop-server for the phone SDK tests: started on a free loopback port with its own
SQLite data folder, stopped at the end. Bindings come from scripts/bindings.sh."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
BINDINGS = TARGET / "bindings" / "python"
SERVER = TARGET / "debug" / "fieldloop-server"
sys.path.insert(0, str(BINDINGS))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, json.loads(text) if text else None


class Server:
    def __init__(self, base, data):
        self.base = base
        self.data = data
        self.admin = None

    def login(self, username, password):
        status, body = http("POST", f"{self.base}/api/auth/login", body={"username": username, "password": password})
        assert status == 200, body
        return body["access_token"]

    def user(self, username, role, region=None):
        if region is not None:
            # The region on the managed list first (409 when it is there already).
            status, body = http("POST", f"{self.base}/api/regions", self.admin, {"code": region, "name": region})
            assert status in (201, 409), body
        status, body = http(
            "POST",
            f"{self.base}/api/users",
            self.admin,
            {"username": username, "display_name": username, "password": f"{username}-password-for-tests", "role": role, "region": region},
        )
        assert status == 201, body
        return body

    def call(self, who, method, path, body=None):
        return http(method, f"{self.base}{path}", self.login(who, f"{who}-password-for-tests"), body)


@pytest.fixture(scope="session")
def server():
    assert SERVER.exists(), "build the server first (cargo build -p fieldloop-server)"
    data = tempfile.mkdtemp(prefix="fieldloop-py-")
    port = free_port()
    env = dict(os.environ, FIELDLOOP_DATA=data, FIELDLOOP_ADDR=f"127.0.0.1:{port}", FIELDLOOP_ADMIN_PASSWORD="admin-password-for-tests")
    subprocess.run([str(SERVER), "create-admin", "admin"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([str(SERVER), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                break
        except Exception:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
    s = Server(base, data)
    s.admin = s.login("admin", "admin-password-for-tests")
    yield s
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
