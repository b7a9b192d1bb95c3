"""A stand-in for Google Cloud Storage's JSON API, for the push lock's tests: object create
(multipart upload), get (metadata or data) and delete, with the generation preconditions GCS
documents (`ifGenerationMatch`: 0 = "only if the object does not exist"; a number = "only if
this is its generation"; 412 otherwise). Not GCS: one process, in memory, just these calls.
The PyPI emulator `gcp-storage-emulator` ignores preconditions (a second create with
`ifGenerationMatch=0` succeeds there), so it cannot test a compare-and-set.

google-cloud-storage talks to it through `STORAGE_EMULATOR_HOST`, as to any GCS emulator.
"""
import email.parser
import email.policy
import itertools
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GcsStandin:
    def __init__(self):
        self.objects = {}  # (bucket, name) -> {"data", "generation", "updated"}
        self._lock = threading.Lock()
        self._generations = itertools.count(int(time.time() * 1e6))
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body=None):
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _route(self):
                url = urllib.parse.urlparse(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                return url.path, query

            def do_POST(self):  # noqa: N802 (http.server's naming)
                path, query = self._route()
                parts = path.split("/")  # /upload/storage/v1/b/<bucket>/o
                if parts[1:4] != ["upload", "storage", "v1"] or parts[6:7] != ["o"]:
                    return self._reply(404, {"error": {"code": 404, "message": path}})
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n"
                    + body)
                metadata, data = [part.get_payload(decode=True) for part in
                                  message.iter_parts()]
                name = json.loads(metadata)["name"]
                status, reply = standin.create(parts[5], name, data, query)
                return self._reply(status, reply)

            def do_GET(self):  # noqa: N802 (metadata, or the data with alt=media)
                path, query = self._route()
                media = path.startswith("/download/") or query.get("alt") == "media"
                bucket, name = _object_path(path[len("/download"):] if path.startswith(
                    "/download/") else path)
                with standin._lock:
                    found = standin.objects.get((bucket, name))
                if found is None:
                    return self._reply(404, {"error": {"code": 404, "message": "No such object"}})
                if not media:
                    return self._reply(200, _resource(bucket, name, found))
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(found["data"])))
                self.send_header("x-goog-generation", str(found["generation"]))
                self.end_headers()
                self.wfile.write(found["data"])

            def do_DELETE(self):  # noqa: N802
                path, query = self._route()
                bucket, name = _object_path(path)
                status, reply = standin.delete(bucket, name, query)
                return self._reply(status, reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def create(self, bucket, name, data, query):
        with self._lock:
            found = self.objects.get((bucket, name))
            wanted = query.get("ifGenerationMatch")
            if wanted is not None and int(wanted) != (found["generation"] if found else 0):
                return 412, {"error": {"code": 412, "message": "Precondition Failed"}}
            entry = {"data": data, "generation": next(self._generations),
                     "updated": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
            self.objects[(bucket, name)] = entry
            return 200, _resource(bucket, name, entry)

    def delete(self, bucket, name, query):
        with self._lock:
            found = self.objects.get((bucket, name))
            if found is None:
                return 404, {"error": {"code": 404, "message": "No such object"}}
            wanted = query.get("ifGenerationMatch")
            if wanted is not None and int(wanted) != found["generation"]:
                return 412, {"error": {"code": 412, "message": "Precondition Failed"}}
            del self.objects[(bucket, name)]
            return 204, None

    def stop(self):
        self.server.shutdown()


def _object_path(path):
    parts = path.split("/")  # /storage/v1/b/<bucket>/o/<name>
    return parts[4], urllib.parse.unquote("/".join(parts[6:]))


def _resource(bucket, name, entry):
    return {"kind": "storage#object", "bucket": bucket, "name": name,
            "generation": str(entry["generation"]), "metageneration": "1",
            "size": str(len(entry["data"])), "updated": entry["updated"],
            "timeCreated": entry["updated"]}
