"""The deployment recipe (README, "Deployment") run end to end on this machine.

deploy/nginx.conf, with its ports and certificate paths pointed at this run's, terminates TLS
(a certificate from a test CA made here) in front of two fieldloop-server instances on one
fresh PostgreSQL database. A phone, through the Python SDK and trusting only the test CA
besides the public roots, signs in, records visits offline and syncs them; one instance is
stopped while the sync runs; the phone syncs again and every visit is on the server, once.
/metrics is not passed through the proxy.
"""

import asyncio
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import fieldloop_ffi as sdk

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVER = pathlib.Path(os.environ.get("FIELDLOOP_SERVER", ROOT / "target/debug/fieldloop-server")).resolve()
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
VISITS = 40


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw)


def make_ca(folder):
    """A CA, and a certificate for 127.0.0.1 and localhost signed by it."""
    ca_key, ca_pem = folder / "ca.key", folder / "ca.pem"
    key, csr, pem = folder / "server.key", folder / "server.csr", folder / "server.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Fieldloop test CA",
        "-keyout", str(ca_key), "-out", str(ca_pem))
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(pem))
    return ca_pem, pem, key


def start_server(env, port, log):
    proc = subprocess.Popen([str(SERVER), "serve"], env=dict(env, FIELDLOOP_ADDR=f"127.0.0.1:{port}"),
                            stdout=subprocess.DEVNULL, stderr=log)
    wait_for(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def wait_for(url, proc=None, context=None):
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context):
                return
        except Exception:
            if time.time() > deadline or (proc is not None and proc.poll() is not None):
                raise RuntimeError(f"{url} did not answer")
            time.sleep(0.1)


def api(base, method, path, token=None, body=None, context=None):
    req = urllib.request.Request(f"{base}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def nginx_config(folder, port, upstreams, cert, key):
    """deploy/nginx.conf as shipped, with this run's ports and certificate paths."""
    site = (ROOT / "deploy/nginx.conf").read_text()
    for shipped, ours in [("127.0.0.1:8081", f"127.0.0.1:{upstreams[0]}"), ("127.0.0.1:8082", f"127.0.0.1:{upstreams[1]}"),
                          ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"), ("listen 80;", f"listen 127.0.0.1:{free_port()};"),
                          ("/etc/ssl/fieldloop/fullchain.pem", str(cert)), ("/etc/ssl/fieldloop/privkey.pem", str(key))]:
        assert shipped in site, f"the recipe no longer has {shipped!r}"
        site = site.replace(shipped, ours)
    (folder / "site.conf").write_text(site)
    main = f"""daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""
    conf = folder / "nginx.conf"
    conf.write_text(main)
    return conf


class Progress(sdk.SyncProgress):
    def on_progress(self, done, total, sent, size):
        pass


async def phone_day(base, ca_pem, store, stop_one):
    phone = await sdk.open_client_with(str(store), base, sdk.ConnectOptions(extra_roots_pem=ca_pem.read_text(), allow_plain_http=False))
    await phone.login("li", "li-password-for-tests")
    await phone.register_device("李师傅的手机")
    ids = []
    for i in range(VISITS):
        record = await phone.create_visit([sdk.FieldInput(path="form.diagnosis", text=f"皮带磨损 {i}", number=None, yuan=None)])
        ids.append(record.id)
    sync = asyncio.ensure_future(phone.sync_now(Progress()))
    await asyncio.sleep(0.05)
    stop_one()
    try:
        await sync
    except Exception as e:  # the request that met the stopping instance; the phone tries again
        print(f"sync during the stop: {e}")
    for _ in range(5):
        try:
            await phone.sync_now(Progress())
            break
        except Exception as e:
            print(f"sync after the stop: {e}")
            await asyncio.sleep(1)
    await phone.shutdown()
    return ids


def main():
    assert SERVER.exists(), f"build the server first: {SERVER}"
    folder = pathlib.Path(tempfile.mkdtemp(prefix="fieldloop-deploy-"))
    # nginx's workers (not root) keep large request bodies in a folder under this one.
    folder.chmod(0o755)
    db = "fieldloop_deploy_" + uuid.uuid4().hex[:8]
    run("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", f"CREATE DATABASE {db}")
    procs = []
    try:
        env = dict(os.environ, DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db}",
                   FIELDLOOP_ADMIN_PASSWORD="admin-password-for-tests", FIELDLOOP_LOG_FORMAT="json")
        run(str(SERVER), "create-admin", "admin", env=env)
        ca_pem, cert, key = make_ca(folder)
        ports = [free_port(), free_port()]
        log = open(folder / "servers.log", "w")
        a = start_server(env, ports[0], log)
        b = start_server(env, ports[1], log)
        procs += [a, b]
        front = free_port()
        conf = nginx_config(folder, front, ports, cert, key)
        run(NGINX, "-t", "-c", str(conf), "-p", str(folder))
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(nginx)
        base = f"https://127.0.0.1:{front}"
        trust = ssl.create_default_context(cafile=str(ca_pem))
        wait_for(f"{base}/healthz", nginx, trust)

        status, login = api(base, "POST", "/api/auth/login", body={"username": "admin", "password": "admin-password-for-tests"}, context=trust)
        assert status == 200, login
        admin = login["access_token"]
        status, body = api(base, "POST", "/api/regions", admin, {"code": "wuhan", "name": "武汉办事处"}, trust)
        assert status == 201, body
        status, body = api(base, "POST", "/api/users", admin, {"username": "li", "display_name": "李师傅", "password": "li-password-for-tests",
                                                               "role": "technician", "region": "wuhan"}, trust)
        assert status == 201, body
        # A 9 MiB body passes the proxy (nginx's default would refuse it with 413) and reaches
        # the server, which answers in its own shape.
        status, body = api(base, "POST", "/api/complaints", admin, {"pad": "x" * (9 * 1024 * 1024)}, trust)
        assert status == 400 and "error" in json.loads(body), (status, body[:200])
        status, _ = api(base, "GET", "/metrics", context=trust)
        assert status == 404, "the proxy does not pass /metrics on"

        def stop_one():
            a.send_signal(signal.SIGTERM)

        started = time.time()
        ids = asyncio.run(phone_day(base, ca_pem, folder / "phone.sqlite", stop_one))
        a.wait(timeout=30)
        status, docs = api(base, "GET", "/api/docs?limit=1000", admin, context=trust)
        assert status == 200, docs
        on_server = [d["id"] for d in docs]
        missing = set(ids) - set(on_server)
        assert not missing, f"{len(missing)} visits never reached the server"
        assert len(on_server) == len(set(on_server)) == VISITS, f"{len(on_server)} records for {VISITS} visits"
        print(f"deployment check: {VISITS} visits synced through nginx (TLS, test CA) with one of two instances stopped mid-sync, "
              f"{time.time() - started:.1f} s")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"],
                       capture_output=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(f"deployment check failed: {e}", file=sys.stderr)
        raise
