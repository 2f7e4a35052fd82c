"""Harness for the integration tests: runs the real controlplane, gateway and gatewayctl on
loopback, with fake upstream services, and cleans up after itself.

Owned by the integration tests (tests/integration/). Python 3 standard library only (tests
take packages such as h2 through import_debian).

- Binaries come from $GATEWAY_BIN_DIR (ctest sets it to <build>/bin).
- Every process writes stderr to a log file in the cluster's temp dir; start-up waits (with a
  deadline) for the `<role> listening on <host:port>` lines and parses the actual ports.
- Every process started is killed on Cluster.close(), at interpreter exit (atexit), on SIGTERM,
  and (Linux) when this Python process dies (PR_SET_PDEATHSIG), so nothing outlives a test run.
- ClusterTestCase gives each test its own Cluster and prints the process logs of a failed test.

Run `python3 harness.py upstream NAME [--delay SECONDS]` to serve one fake upstream on its own
(scripts/demo.sh and bench/propagation do); it prints `upstream NAME listening on HOST:PORT`.
"""

import atexit
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ------------------------------------------------------------------------------ modules


def import_debian(name):
    """Imports module `name`, from Debian's python3-* packages (scripts/install-deps.sh installs
    them) when the interpreter running the tests does not have it (a pyenv Python, say). Only
    for pure-Python packages, such as h2."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError:
        debian = "/usr/lib/python3/dist-packages"
        if debian in sys.path:
            raise
        sys.path.append(debian)
        return importlib.import_module(name)


# ------------------------------------------------------------------------------ binaries


def bin_dir():
    """The directory holding controlplane, gateway and gatewayctl."""
    configured = os.environ.get("GATEWAY_BIN_DIR")
    if configured:
        return configured
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "build", "bin")


def binary(name):
    path = os.path.join(bin_dir(), name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(
            "%s not found or not executable (set GATEWAY_BIN_DIR to <build>/bin)" % path)
    return path


# ------------------------------------------------------------------------------ certificates


class Pki:
    """A test CA and certificates signed by it, made with the openssl command line in `directory`
    (EC P-256, valid for a day). Each method returns file paths."""

    def __init__(self, directory, name="test-ca"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_cert, self.ca_key = self._path(name + ".crt"), self._path(name + ".key")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "1",
                      "-subj", "/CN=" + name)
        self._serial = 0

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        result = subprocess.run(["openssl"] + list(args), capture_output=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError("openssl %s: %s" % (" ".join(args), result.stderr.decode()))

    def issue(self, file_name, common_name, dns=(), ips=()):
        """A certificate for `common_name` with the given DNS and IP SANs: (cert, key)."""
        self._serial += 1
        cert = self._path(file_name + ".crt")
        key = self._path(file_name + ".key")
        csr = self._path(file_name + ".csr")
        ext = self._path(file_name + ".ext")
        sans = ["DNS:" + d for d in dns] + ["IP:" + i for i in ips]
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n")
            if sans:
                f.write("subjectAltName=" + ",".join(sans) + "\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", key, "-out", csr, "-subj", "/CN=" + common_name)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                      "-set_serial", str(1000 + self._serial), "-out", cert, "-days", "1",
                      "-extfile", ext)
        return cert, key

    def server(self, file_name="controlplane"):
        """A server certificate for the loopback names: localhost, 127.0.0.1, ::1."""
        return self.issue(file_name, "controlplane", dns=["localhost"], ips=["127.0.0.1", "::1"])


def served_certificate(address, ca_file):
    """The DER certificate a TLS server at host:port presents (verified against ca_file)."""
    import ssl
    host, port = split_host_port(address)
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    with socket.create_connection((host, port), timeout=5) as sock:
        with context.wrap_socket(sock) as tls:
            return tls.getpeercert(binary_form=True)


def pem_to_der(path):
    import ssl
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


# ------------------------------------------------------------------------------ waiting


class Timeout(AssertionError):
    pass


def wait_until(predicate, timeout=10.0, interval=0.02, message=None):
    """Calls predicate() until it returns a truthy value, which is returned. Raises Timeout
    (an AssertionError, so a test fails rather than errors) after `timeout` seconds; the last
    value or exception is part of the message. Exceptions from predicate count as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Exception as e:  # noqa: BLE001 - "not yet" includes "not reachable yet"
            last = e
        if time.monotonic() >= deadline:
            raise Timeout("timed out after %.1fs waiting for %s (last: %r)" %
                          (timeout, message or getattr(predicate, "__name__", "condition"),
                           last))
        time.sleep(interval)


# ------------------------------------------------------------------------------ addresses


def split_host_port(address):
    """"127.0.0.1:80" / "[::1]:80" -> (host, port)."""
    host, _, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def refused_address():
    """A loopback address that refuses connections, held for the life of the process: the
    socket is bound (so no one else gets the port) but never listens, so a connect gets RST."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _held_sockets.append(sock)
    return "127.0.0.1:%d" % sock.getsockname()[1]


def blackhole_address():
    """A loopback address that accepts TCP connections (kernel backlog) but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    _held_sockets.append(sock)
    return "127.0.0.1:%d" % sock.getsockname()[1]


_held_sockets = []

# ------------------------------------------------------------------------------ processes

_LISTENING = re.compile(r"\b(grpc|admin|https|http) listening on (\[[0-9A-Fa-f:.]+\]:\d+|[\w.-]+:\d+)")
_all_processes = []
_all_processes_lock = threading.Lock()


try:  # resolved here, in the parent: the child after fork() only calls it
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: atexit and close() still clean up
    _prctl = None


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the thread that started it exits (Linux)."""
    if _prctl is not None:
        _prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


class Process:
    """One running program. stderr (and stdout) go to `log_path`."""

    def __init__(self, name, args, log_path, env=None):
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        self.addresses = {}  # role -> "host:port" from the listening lines
        self._log = open(log_path, "ab")
        self._log.write(("$ %s\n" % " ".join(self.args)).encode())
        self._log.flush()
        # A restart appends to the same log: only what this run writes (after the command line
        # above) is searched for its listening lines.
        self._start_offset = self._log.tell()
        # PDEATHSIG fires when the *thread* that forked dies: only use it from the main thread.
        preexec = _die_with_parent if threading.current_thread() is threading.main_thread() \
            else None
        self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, env=env, preexec_fn=preexec)
        with _all_processes_lock:
            _all_processes.append(self)

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def log_text(self, this_run_only=False):
        try:
            with open(self.log_path, "rb") as f:
                if this_run_only:
                    f.seek(self._start_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_listening(self, roles, timeout=15.0):
        """Waits until a `<role> listening on <addr>` line appeared for each role; returns
        {role: "host:port"}. Only lines written since this start count (restarts append)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text(this_run_only=True)
            for match in _LISTENING.finditer(text):
                self.addresses.setdefault(match.group(1), match.group(2))
            if all(role in self.addresses for role in roles):
                return {role: self.addresses[role] for role in roles}
            if not self.running():
                raise AssertionError("%s exited with status %s before listening on %s; log:\n%s"
                                     % (self.name, self.popen.returncode, roles, text))
            if time.monotonic() >= deadline:
                raise AssertionError("%s did not log %s within %.0fs; log:\n%s"
                                     % (self.name, " and ".join(
                                         "'%s listening on'" % r for r in roles), timeout, text))
            time.sleep(0.01)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends `sig`, waits up to `timeout`, then SIGKILLs. Returns the exit status."""
        if self.running():
            try:
                self.popen.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._close_log()
        return self.popen.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def _close_log(self):
        if not self._log.closed:
            self._log.close()


def kill_all_processes():
    with _all_processes_lock:
        processes = list(_all_processes)
    for proc in processes:
        try:
            if proc.running():
                proc.popen.kill()
                proc.popen.wait(timeout=10)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(kill_all_processes)


def _on_sigterm(signum, frame):
    kill_all_processes()
    sys.exit(128 + signum)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)

# ------------------------------------------------------------------------------ fake upstreams


class FakeUpstream:
    """A loopback HTTP/1.1 service (keep-alive) that answers every request with JSON:
    {"name", "method", "path", "headers": {lower-case name: value}, "body"}. `delay` (seconds)
    makes it slow; `response_headers` are added to every response. `requests` records what it
    received (same dicts), `connections` counts TCP connections accepted."""

    def __init__(self, name, delay=0.0, response_headers=None, host="127.0.0.1", port=0):
        self.name = name
        self.delay = delay
        self.response_headers = list(response_headers or [])
        self.requests = []
        self.connections = 0
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60  # an idle keep-alive connection is closed after this
            # Headers and body are two writes: without TCP_NODELAY the body waits for the
            # peer's delayed ACK (~40 ms), a delay that is the fake's, not the gateway's.
            disable_nagle_algorithm = True

            def setup(self):
                with upstream._lock:
                    upstream.connections += 1
                super().setup()

            def log_message(self, fmt, *args):  # quiet
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length > 0 else b""
                headers = {}
                for key, value in self.headers.items():
                    key = key.lower()
                    headers[key] = value if key not in headers else headers[key] + ", " + value
                record = {"name": upstream.name, "method": self.command, "path": self.path,
                          "headers": headers, "body": body.decode("utf-8", "replace")}
                with upstream._lock:
                    upstream.requests.append(record)
                if upstream.delay:
                    time.sleep(upstream.delay)
                payload = json.dumps(record).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("X-Upstream", upstream.name)
                    for key, value in upstream.response_headers:
                        self.send_header(key, value)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False  # keep-alive handler threads must not block close()
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

            def handle_error(self, request, client_address):  # quiet on resets
                pass

        self._server = Server((host, port), Handler)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="upstream-" + name, daemon=True)
        self._thread.start()

    @property
    def address(self):
        return ("[%s]:%d" if ":" in self.host else "%s:%d") % (self.host, self.port)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# ------------------------------------------------------------------------------ HTTP clients


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def upstream_name(self):
        """The fake upstream that answered, or None when the gateway answered itself."""
        try:
            return self.json().get("name") if self.header("X-Upstream") else None
        except ValueError:
            return None

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:300])


class HttpClient:
    """One keep-alive HTTP/1.1 connection to `address`; reconnects if the server closed it."""

    def __init__(self, address, timeout=10.0):
        self.host, self.port = split_host_port(address)
        self.timeout = timeout
        self._conn = None

    def request(self, path, method="GET", headers=None, body=None):
        headers = dict(headers or {})
        start = time.monotonic()
        for attempt in (0, 1):
            fresh = self._conn is None
            if fresh:
                self._conn = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout)
            try:
                self._conn.request(method, path, body=body, headers=headers)
                raw = self._conn.getresponse()
                data = raw.read()
                response = Response(raw.status, raw.getheaders(), data,
                                    time.monotonic() - start)
                if raw.will_close:
                    self.close()
                return response
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A server may close an idle keep-alive connection; retry once on a new one,
                # but never hide a failure on a connection we just opened.
                self.close()
                if fresh or attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def http_get(address, path, headers=None, timeout=10.0, method="GET", body=None):
    """One request on a new connection."""
    client = HttpClient(address, timeout)
    try:
        return client.request(path, method=method, headers=headers, body=body)
    finally:
        client.close()


def raw_http(address, request_bytes, timeout=10.0):
    """Sends raw bytes, reads until the server closes or `timeout`; returns the bytes."""
    host, port = split_host_port(address)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request_bytes)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
    return b"".join(chunks)


# ------------------------------------------------------------------------------ the programs


class ControlPlane:
    def __init__(self, cluster, name, db_path, listen, admin, extra_args=()):
        self.cluster = cluster
        self.name = name
        self.db_path = db_path
        self.extra_args = list(extra_args)  # e.g. ["--max-config-size", "1m"]
        self.process = None
        self.address = None        # grpc host:port
        self.admin_address = None
        self._listen = listen
        self._admin = admin

    def start(self, timeout=15.0):
        args = [binary("controlplane"), "--listen", self._listen, "--db", self.db_path]
        roles = ["grpc"]
        if self._admin:
            args += ["--admin", self._admin]
            roles.append("admin")
        args += self.extra_args
        self.process = self.cluster.spawn(self.name, args)
        found = self.process.wait_listening(roles, timeout)
        self.address = found["grpc"]
        self.admin_address = found.get("admin")
        # A restart keeps the same ports, so gateways find it again.
        self._listen = self.address
        if self._admin:
            self._admin = self.admin_address
        return self

    def stop(self, sig=signal.SIGTERM):
        return self.process.stop(sig)

    def kill(self):
        return self.process.kill()

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()


class Gateway:
    def __init__(self, cluster, node_id, control_plane_address, cache_path, listen, admin,
                 extra_args):
        self.cluster = cluster
        self.node_id = node_id
        self.control_plane_address = control_plane_address
        self.cache_path = cache_path
        self.extra_args = list(extra_args)
        self.process = None
        self.address = None        # http host:port
        self.tls_address = None    # https host:port, with --listen-tls
        self.admin_address = None
        self._listen = listen
        self._admin = admin

    def start(self, timeout=15.0):
        args = [binary("gateway"), "--listen", self._listen,
                "--control-plane", self.control_plane_address, "--node-id", self.node_id,
                "--cache", self.cache_path, "--admin", self._admin] + self.extra_args
        self.process = self.cluster.spawn("gateway-" + self.node_id, args)
        tls = "--listen-tls" in self.extra_args
        found = self.process.wait_listening(["http", "admin"] + (["https"] if tls else []),
                                            timeout)
        self.address = found["http"]
        self.admin_address = found["admin"]
        self._listen, self._admin = self.address, self.admin_address
        if tls:  # a restart keeps the port
            self.tls_address = found["https"]
            i = self.extra_args.index("--listen-tls")
            self.extra_args[i + 1] = self.tls_address
        return self

    def stop(self, sig=signal.SIGTERM):
        return self.process.stop(sig)

    def kill(self):
        return self.process.kill()

    def restart(self):
        self.stop()
        return self.start()

    # data plane
    def get(self, path, headers=None, **kwargs):
        return http_get(self.address, path, headers=headers, **kwargs)

    def client(self, timeout=10.0):
        return HttpClient(self.address, timeout)

    # admin
    def admin_get(self, path):
        return http_get(self.admin_address, path, timeout=5.0)

    def config(self):
        response = self.admin_get("/config")
        if response.status != 200:
            raise AssertionError("GET /config on %s: %r" % (self.node_id, response))
        return response.json()

    def ready(self):
        return self.admin_get("/ready")

    def wait_version(self, version, timeout=10.0):
        """Waits until this gateway runs config `version` (or newer)."""
        return wait_until(lambda: self.config()["version"] >= version, timeout,
                          message="gateway %s to run version %d" % (self.node_id, version))


class Ctl:
    """Runs gatewayctl against one control plane; `args` go before every command (e.g.
    ["--tls-ca", ca, "--token", token])."""

    def __init__(self, server_address, args=()):
        self.server_address = server_address
        self.args = [str(a) for a in args]

    def run(self, *args, server=True, timeout=20.0, env=None):
        """Returns (exit code, stdout, stderr). `server=False` omits --server."""
        argv = [binary("gatewayctl")]
        if server:
            argv += ["--server", self.server_address]
        argv += self.args + [str(a) for a in args]
        full_env = dict(os.environ)
        full_env.pop("GATEWAYCTL_SERVER", None)
        full_env.update(env or {})
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=timeout, env=full_env)
        return (result.returncode, result.stdout.decode("utf-8", "replace"),
                result.stderr.decode("utf-8", "replace"))

    def ok(self, *args):
        """Runs a command that must succeed; returns its stdout."""
        code, out, err = self.run(*args)
        if code != 0:
            raise AssertionError("gatewayctl %s exited %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), code, out, err))
        return out

    def json(self, *args):
        """Runs `gatewayctl -o json ARGS` that must succeed; returns the parsed JSON."""
        out = self.ok("-o", "json", *args)
        try:
            return json.loads(out)
        except ValueError as e:
            raise AssertionError("gatewayctl -o json %s printed invalid JSON (%s): %r"
                                 % (" ".join(map(str, args)), e, out))

    def version(self):
        return self.json("status")["version"]

    def gateways(self):
        return {g["node_id"]: g for g in self.json("gateways")}

    def wait_acked(self, node_ids, version=None, timeout=15.0):
        """Waits until every gateway in node_ids is connected and has ACKed `version` (default:
        the current config version) with no error. Returns the gateways dict."""
        target = self.version() if version is None else version

        def all_acked():
            gateways = self.gateways()
            for node_id in node_ids:
                g = gateways.get(node_id)
                if not g or not g["connected"] or g["version"] != target or g["error"]:
                    return None
            return gateways
        return wait_until(all_acked, timeout,
                          message="gateways %s connected with version %d ACKed"
                          % (sorted(node_ids), target))


class Load:
    """Clients that GET `path` from each gateway in a loop, one keep-alive connection each, while
    the `with` block runs. `failures` lists (node id, status) of every answer that was not a 200
    from the upstream named `upstream`; `served` counts the answers."""

    def __init__(self, gateways, path, upstream):
        self.gateways, self.path, self.upstream = list(gateways), path, upstream
        self.failures = []
        self.served = 0
        self._stop = threading.Event()
        self._threads = []

    def _client(self, gw):
        http = gw.client()
        try:
            while not self._stop.is_set():
                r = http.request(self.path)
                if r.status != 200 or r.upstream_name() != self.upstream:
                    self.failures.append((gw.node_id, r.status))
                self.served += 1
        finally:
            http.close()

    def __enter__(self):
        for gw in self.gateways:
            thread = threading.Thread(target=self._client, args=(gw,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        return False

    def wait_more(self, count, timeout=15.0, message="traffic"):
        """Waits until `count` more answers came than now."""
        target = self.served + count
        wait_until(lambda: self.served >= target, timeout, message=message)


# ------------------------------------------------------------------------------ cluster


POSTGRES_BIN_DIR = os.environ.get("POSTGRES_BIN_DIR", "/usr/lib/postgresql/15/bin")


def postgres_available():
    """True when PostgreSQL's server binaries are installed (scripts/install-deps.sh does)."""
    return all(os.access(os.path.join(POSTGRES_BIN_DIR, name), os.X_OK)
               for name in ("initdb", "postgres", "pg_isready"))


class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1, its data in the cluster's temp dir. PostgreSQL
    refuses to run as root, so when the tests run as root the server runs as `nobody`. `url` is
    a libpq connection URI for the database `gateway` (trust authentication, loopback only)."""

    USER = "gateway"
    DATABASE = "gateway"

    def __init__(self, cluster, name="postgres"):
        self.cluster = cluster
        self.name = name
        self.data_dir = cluster.path(name + "-data")
        self.port = None
        self.process = None

    def _as_server_user(self, args):
        if os.geteuid() != 0:
            return list(args)
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] + list(args)

    def _run(self, args, timeout=60):
        result = subprocess.run(self._as_server_user(args), stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError("%s exited %d: %s" % (" ".join(args), result.returncode,
                                                         result.stderr.decode(errors="replace")))
        return result.stdout.decode(errors="replace")

    @property
    def url(self):
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.USER, self.port, self.DATABASE)

    def start(self, timeout=30.0):
        first = not os.path.isdir(self.data_dir)
        for path in (self.data_dir,):
            os.makedirs(path, mode=0o700, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(path, "nobody", "nogroup")
        if os.geteuid() == 0:
            os.chmod(self.cluster.dir, 0o755)  # nobody must reach its directories
        if first:
            self._run([os.path.join(POSTGRES_BIN_DIR, "initdb"), "-D", self.data_dir,
                       "-U", self.USER, "--auth=trust", "--encoding=UTF8", "--no-sync"])
        if self.port is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            sock.close()
        self.process = self.cluster.spawn(self.name, self._as_server_user([
            os.path.join(POSTGRES_BIN_DIR, "postgres"), "-D", self.data_dir,
            # TCP only: a temp dir's socket path can pass the 107 bytes a socket name may have.
            "-p", str(self.port), "-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]))

        def ready():
            if not self.process.running():
                raise AssertionError("postgres exited:\n" + self.process.log_text())
            return subprocess.run([os.path.join(POSTGRES_BIN_DIR, "pg_isready"), "-q", "-h",
                                   "127.0.0.1", "-p", str(self.port)],
                                  stdin=subprocess.DEVNULL).returncode == 0
        wait_until(ready, timeout, interval=0.1, message="postgres on port %d" % self.port)
        if first:
            self.psql("CREATE DATABASE %s" % self.DATABASE, database="postgres")
        return self

    def psql(self, sql, database=None):
        """Runs SQL through psql over TCP; returns its unaligned output."""
        return subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", self.USER, "-d", database or self.DATABASE, "-c", sql],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=True,
        ).stdout.decode()

    def stop(self, sig=signal.SIGINT):
        """SIGINT: PostgreSQL's fast shutdown; SIGKILL: a crash."""
        return self.process.stop(sig)


def redis_available():
    """True when redis-server is installed (scripts/install-deps.sh installs it)."""
    return shutil.which("redis-server") is not None


class RedisError(Exception):
    """An error reply of Redis (`-ERR ...`)."""


class RedisServer:
    """A throwaway redis-server on 127.0.0.1 at a port chosen at run time, its dir in the
    cluster's temp dir, saving nothing (`--save '' --appendonly no`). `address` is HOST:PORT for
    `gateway --redis`; `command(*args)` runs one command and returns its reply (bytes, int,
    list, None; an error reply raises RedisError). `stop()` (SIGTERM) or `stop(signal.SIGKILL)`
    (a crash) and `start()` again keep the port; the data goes with the process."""

    def __init__(self, cluster, name="redis"):
        self.cluster = cluster
        self.name = name
        self.dir = cluster.path(name + "-data")
        self.port = None
        self.process = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=15.0):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        if self.port is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            sock.close()
        self.process = self.cluster.spawn(self.name, [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", self.dir])

        def ready():
            if not self.process.running():
                raise AssertionError("redis-server exited:\n" + self.process.log_text())
            return self.command("PING") == b"PONG"
        wait_until(ready, timeout, interval=0.05, message="redis-server on port %d" % self.port)
        return self

    def command(self, *args, timeout=5.0):
        """Sends one command (RESP) on a connection of its own; returns the parsed reply."""
        payload = b"*%d\r\n" % len(args)
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            payload += b"$%d\r\n%s\r\n" % (len(data), data)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(payload)
            reader = sock.makefile("rb")
            try:
                return self._read_reply(reader)
            finally:
                reader.close()

    @classmethod
    def _read_reply(cls, reader):
        line = reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = reader.read(length + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [cls._read_reply(reader) for _ in range(count)]
        raise ConnectionError("unexpected reply from redis: %r" % line)

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM: a clean shutdown; SIGKILL: a crash."""
        return self.process.stop(sig)


class Cluster:
    """Everything one test starts: temp dir, processes, fake upstreams. close() ends it all."""

    def __init__(self, label="cluster"):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[-60:]
        self.dir = tempfile.mkdtemp(prefix="gw-it-%s-" % safe)
        self.processes = []
        self.upstreams = []
        self.control_plane = None
        self.ctl = None
        self.gateways = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def spawn(self, name, args, env=None):
        proc = Process(name, args, self.path(name + ".log"), env)
        self.processes.append(proc)
        return proc

    def start_control_plane(self, name="controlplane", db=None, listen="127.0.0.1:0",
                            admin="127.0.0.1:0", extra_args=()):
        cp = ControlPlane(self, name, db or self.path(name + ".db"), listen, admin, extra_args)
        cp.start()
        self.control_plane = cp
        self.ctl = Ctl(cp.address)
        return cp

    def start_gateway(self, node_id, extra_args=(), cache=None, control_plane=None,
                      listen="127.0.0.1:0", admin="127.0.0.1:0"):
        cp_address = control_plane or self.control_plane.address
        gw = Gateway(self, node_id, cp_address, cache or self.path(node_id + ".cache"),
                     listen, admin, extra_args)
        gw.start()
        self.gateways[node_id] = gw
        return gw

    def start_postgres(self, name="postgres"):
        """A PostgreSQL server of this cluster's own (see PostgresServer)."""
        return PostgresServer(self, name).start()

    def start_redis(self, name="redis"):
        """A redis-server of this cluster's own (see RedisServer)."""
        return RedisServer(self, name).start()

    def upstream(self, name, **kwargs):
        up = FakeUpstream(name, **kwargs)
        self.upstreams.append(up)
        return up

    def dump_logs(self, stream=None, tail_lines=None):
        stream = stream or sys.stderr
        seen = set()
        for proc in self.processes:
            if proc.log_path in seen:
                continue
            seen.add(proc.log_path)
            lines = proc.log_text().splitlines()
            if tail_lines and len(lines) > tail_lines:
                lines = ["... (%d earlier lines)" % (len(lines) - tail_lines)] + \
                    lines[-tail_lines:]
            stream.write("\n----- log of %s (%s) -----\n" % (proc.name, proc.log_path))
            stream.write("\n".join(lines) + "\n")
        stream.flush()

    def close(self):
        for proc in reversed(self.processes):
            try:
                proc.stop(signal.SIGTERM, timeout=5)
            except Exception:  # noqa: BLE001 - keep going: everything must be stopped
                proc.popen.kill()
        for up in self.upstreams:
            try:
                up.close()
            except Exception:  # noqa: BLE001
                pass

    def remove_dir(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _failures(result):
    return len(result.failures) + len(result.errors) + len(getattr(result, "unexpectedSuccesses",
                                                                   []))


class ClusterTestCase(unittest.TestCase):
    """Each test gets self.cluster (fresh temp dir); everything it started is stopped after the
    test, even when it fails, and a failed test prints its processes' logs."""

    maxDiff = None

    def setUp(self):
        self.cluster = Cluster(self.id().rsplit(".", 2)[-1])
        self.addCleanup(self.cluster.close)

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = _failures(result)
        try:
            return super().run(result)
        finally:
            cluster = getattr(self, "cluster", None)
            if cluster is not None:
                if _failures(result) > before:
                    cluster.dump_logs()
                cluster.remove_dir()


class SharedClusterTestCase(unittest.TestCase):
    """One cluster for the whole class (set it up in setUpCluster); a failed test prints the
    tail of every log."""

    maxDiff = None
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(cls.__name__)
        try:
            cls.setUpCluster()
        except BaseException:
            cls.cluster.dump_logs()
            cls.cluster.close()
            cls.cluster.remove_dir()
            raise

    @classmethod
    def setUpCluster(cls):
        raise NotImplementedError

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        cls.cluster.remove_dir()

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = _failures(result)
        try:
            return super().run(result)
        finally:
            if _failures(result) > before and self.cluster is not None:
                self.cluster.dump_logs(tail_lines=80)


def main():
    """Entry point of every test file: unittest with verbose output."""
    unittest.main(verbosity=2)


# ------------------------------------------------------------------------------ stand-alone


def _serve_upstream(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="harness.py upstream",
                                     description="serve one fake upstream until killed")
    parser.add_argument("name")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    host, port = split_host_port(args.listen)
    up = FakeUpstream(args.name, delay=args.delay, host=host, port=port)
    print("upstream %s listening on %s" % (args.name, up.address), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    up.close()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "upstream":
        _serve_upstream(sys.argv[2:])
    else:
        sys.stderr.write("usage: harness.py upstream NAME [--listen HOST:PORT] [--delay S]\n")
        sys.exit(2)
