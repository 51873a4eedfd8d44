"""A throwaway Roster cluster for the measuring scripts (scripts/events-load,
scripts/console-latency): its own PostgreSQL database, redis-server, s3s-fs,
one API and workers, from the binaries in the target dir; everything is removed
on exit. The API connects as a role of its own, so PostgreSQL can log (and the
scripts count) exactly the statements the API sent."""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request, uuid

TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/roster/target"))
B = os.path.join(TARGET, os.environ.get("BIN", "debug"))
PG = os.environ.get("ROSTER_TEST_PG", "postgres://postgres@127.0.0.1:5432")
PG_LOG = os.environ.get("PG_LOG", "/var/log/postgresql/postgresql-15-main.log")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def psql(sql, db="postgres"):
    subprocess.run(["psql", f"{PG}/{db}", "-qAtc", sql], check=True, stdout=subprocess.DEVNULL)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cluster:
    def __init__(self, workers=1, env=None, log_api_statements=False):
        self.tag = uuid.uuid4().hex[:8]
        self.db, self.role = f"roster_m_{self.tag}", f"roster_m_api_{self.tag}"
        self.tmp = tempfile.mkdtemp(prefix="roster-measure-")
        self.procs = []
        psql(f"CREATE DATABASE {self.db}")
        psql(f"CREATE ROLE {self.role} LOGIN SUPERUSER")
        if log_api_statements:
            psql(f"ALTER ROLE {self.role} SET log_statement = 'all'")
        self.port, redis_port, s3_port = free_port(), free_port(), free_port()
        self.spawn(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        os.makedirs(f"{self.tmp}/s3/roster")
        s3s = shutil.which("s3s-fs") or os.path.expanduser("~/.cargo/bin/s3s-fs")
        self.spawn([s3s, "--host", "127.0.0.1", "--port", str(s3_port), "--access-key", "k", "--secret-key", "s", f"{self.tmp}/s3"])
        wait_port(redis_port)
        wait_port(s3_port)
        self.env = dict(os.environ, ROSTER_REDIS_URL=f"redis://127.0.0.1:{redis_port}", ROSTER_QUEUE=f"m-{self.tag}",
                        ROSTER_S3_BUCKET="roster", ROSTER_S3_ENDPOINT=f"http://127.0.0.1:{s3_port}",
                        AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", ROSTER_DATA_DIR=f"{self.tmp}/data",
                        ROSTER_LISTEN=f"127.0.0.1:{self.port}", RUST_LOG="warn",
                        ROSTER_DATABASE_URL=f"{PG}/{self.db}", **(env or {}))
        subprocess.run([f"{B}/roster-api", "migrate"], env=self.env, check=True, stderr=subprocess.DEVNULL)
        self.token = subprocess.run([f"{B}/roster-api", "admin", "create", "--org", "Acme", "--email", "m@acme.test", "--role", "master"],
                                    env=self.env, check=True, capture_output=True, text=True).stdout.strip()
        api_url = PG.replace("://postgres@", f"://{self.role}@", 1)
        self.api = self.spawn([f"{B}/roster-api", "serve"], dict(self.env, ROSTER_DATABASE_URL=f"{api_url}/{self.db}"))
        for _ in range(workers):
            self.spawn([f"{B}/roster-worker"], self.env)
        wait_port(self.port)
        self.base = f"http://127.0.0.1:{self.port}"

    def spawn(self, argv, env=None):
        p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def call(self, path, method="GET", body=None, headers=None):
        req = urllib.request.Request(self.base + path, method=method, data=body)
        req.add_header("Authorization", f"Bearer {self.token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def post_json(self, path, value):
        return self.call(path, "POST", json.dumps(value).encode(), {"Content-Type": "application/json"})

    def upload(self, group, name, data):
        boundary = "roster" + uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"group_id\"\r\n\r\n{group}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n").encode()
        body += data + f"\r\n--{boundary}--\r\n".encode()
        return self.call("/v1/imports", "POST", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def wait_finished(self, import_id, timeout=3600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.call(f"/v1/imports/{import_id}")
            if now["status"] in ("completed", "failed", "cancelled"):
                return now
            time.sleep(0.5)
        sys.exit(f"import {import_id} did not finish")

    def api_statements(self):
        """Statements PostgreSQL logged for the API's role so far."""
        needle = f" {self.role}@"
        with open(PG_LOG, errors="replace") as log:
            return sum(1 for line in log if needle in line and ("LOG:  execute" in line or "LOG:  statement" in line))

    def close(self):
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        subprocess.run(["psql", f"{PG}/postgres", "-qAtc", f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)"], stdout=subprocess.DEVNULL)
        subprocess.run(["psql", f"{PG}/postgres", "-qAtc", f"DROP ROLE IF EXISTS {self.role}"], stdout=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)
