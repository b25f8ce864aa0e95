import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { formatEvent } from "../../../tools/sslsniff.js";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

const openssl = spawnSync("openssl", ["version"]).status === 0;
const skip = skipUnlessRoot || (openssl ? false : "no openssl command to make a certificate");

/** A node child that GETs path from the local https server (self-signed: not verified); resolves with its pid. */
async function get(port: number, path: string): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `require("https").get({ host: "127.0.0.1", port: ${port}, path: "${path}", rejectUnauthorized: false }, (r) => { r.resume(); r.on("end", () => process.exit(0)); });`,
    ],
    { stdio: "ignore" },
  );
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  return child.pid as number;
}

/** A python3 child (libssl, shared) that does a TLS handshake with the server and one request; resolves with its pid. */
async function pythonHandshake(port: number): Promise<number> {
  const script = [
    "import socket, ssl",
    "c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE",
    `s = c.wrap_socket(socket.create_connection(("127.0.0.1", ${port})))`,
    's.sendall(b"GET /tsbpf-py HTTP/1.0\\r\\n\\r\\n"); s.recv(100); s.close()',
  ].join("\n");
  const child = spawn("/usr/bin/python3", ["-c", script], { stdio: ["ignore", "ignore", "inherit"] });
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  return child.pid as number;
}

describe("sslsniff", () => {
  it("formats bcc's block, with the truncation marker", () => {
    const text = formatEvent(
      { func: "READ/RECV", time: 0.5, comm: "curl", pid: 12, len: 10 },
      Buffer.from("hello"),
      false,
    );
    assert.equal(
      text,
      "READ/RECV    0.500000000        curl             12      10    \n----- DATA -----\nhello\n----- END DATA (TRUNCATED, 5 bytes lost) -----\n\n\n",
    );
    assert.equal(
      formatEvent(
        { func: "HANDSHAKE", time: 0, comm: "c", pid: 1, len: 1, lat: "N/A" },
        Buffer.alloc(0),
        false,
      ),
      `${"HANDSHAKE".padEnd(12)} ${"0.000000000".padEnd(18)} ${"c".padEnd(16)} ${"1".padEnd(7)} ${"1".padEnd(6)} N/A    \n`,
    );
  });

  describe("kernel", { skip }, () => {
    let server: Server;
    let port = 0;
    before(async () => {
      const dir = testTempDir("tsbpf-sslsniff");
      const r = spawnSync("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-subj",
        "/CN=localhost",
        "-days",
        "1",
      ]);
      assert.equal(r.status, 0, String(r.stderr));
      server = createServer(
        { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
        (_q, res) => res.end("tsbpf-sslsniff-body"),
      );
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      port = (server.address() as { port: number }).port;
    });
    after(() => server.close());

    it("prints the request a child writes and the response it reads, in clear", async () => {
      const r = await traceWhile("sslsniff", ["-x"], () => get(port, "/tsbpf-path-1"));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.lines[0] as string, /^FUNC {9}TIME\(s\) {12}COMM {13}PID {5}LEN {5}UID {5}TID {4}$/);
      const pid = r.result;
      const blocks = r.stdout.slice(r.stdout.indexOf("\n") + 1).split("\n\n\n");
      const write = blocks.find((b) =>
        new RegExp(`^WRITE/SEND +[\\d.]+ +node +${pid} +\\d+ +0 +${pid} *\\n`).test(b),
      );
      assert.ok(write, r.stdout);
      assert.match(
        write,
        /\n----- DATA -----\nGET \/tsbpf-path-1 HTTP\/1\.1\r\n[\s\S]*\n----- END DATA -----$/,
      );
      const read = blocks.find((b) => new RegExp(`^READ/RECV +[\\d.]+ +node +${pid} `).test(b));
      assert.ok(read?.includes("tsbpf-sslsniff-body"), r.stdout);
    });

    it("--json -p PID -l: the child's calls only, with latency", async () => {
      let pid = 0;
      const r = await traceWhile("sslsniff", ["--json", "-l", "-c", "node"], async () => {
        pid = await get(port, "/tsbpf-path-2");
        return pid;
      });
      assert.equal(r.code, 0, r.stderr);
      const mine = r.records.filter((x) => x.pid === pid);
      const w = mine.find((x) => x.func === "WRITE/SEND");
      assert.ok(w, r.stdout);
      assert.match(w.data as string, /^GET \/tsbpf-path-2 HTTP\/1\.1\r\n/);
      assert.equal(w.len, Buffer.byteLength(w.data as string));
      assert.equal(w.truncated, 0);
      assert.equal(typeof w.lat_ms, "number");
      const other = await traceWhile("sslsniff", ["--json", "-p", "1", "--max-buffer-size", "4"], () =>
        get(port, "/tsbpf-path-3"),
      );
      assert.equal(other.code, 0, other.stderr);
      assert.equal(other.records.length, 0, other.stdout);
      const small = await traceWhile(
        "sslsniff",
        ["--json", "--max-buffer-size", "4", "--hexdump"],
        async () => {
          pid = await get(port, "/tsbpf-path-4");
          return pid;
        },
      );
      const sw = small.records.find((x) => x.pid === pid && x.func === "WRITE/SEND");
      assert.equal(sw?.data, Buffer.from("GET ").toString("hex"));
      assert.equal(sw?.truncated, (sw?.len as number) - 4);
    });

    it("-l --handshake: a python client's SSL_do_handshake (libssl), with its latency", async () => {
      const r = await traceWhile("sslsniff", ["--json", "-l", "--handshake"], () => pythonHandshake(port));
      assert.equal(r.code, 0, r.stderr);
      const mine = r.records.filter((x) => x.pid === r.result);
      const hs = mine.find((x) => x.func === "HANDSHAKE");
      assert.ok(hs, r.stdout);
      assert.equal(hs.comm, "python3");
      assert.ok(typeof hs.lat_ms === "number" && hs.lat_ms >= 0, JSON.stringify(hs));
      const w = mine.find((x) => x.func === "WRITE/SEND");
      assert.match(String(w?.data), /^GET \/tsbpf-py HTTP\/1\.0\r\n/);
    });
  });
});
