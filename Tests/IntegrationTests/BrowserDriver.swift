import Foundation
import Glibc

/// Headless Chromium driven over the DevTools protocol by a small Python driver (websocket-client from
/// PyPI, installed by scripts/deps.sh). The driver reads one JSON command per line on stdin and answers
/// one JSON line on stdout; it records console errors, uncaught exceptions, log errors, every network
/// request the page makes, and accepts every `confirm()`/`prompt()` dialog (answering prompts with
/// `prompt_text`).
///
/// Commands: `navigate {url}`, `eval {expr}` (awaits promises), `wait {expr, timeout}` (polls until
/// truthy), `click {selector}` (real mouse events at the element's centre), `type {selector, text}`
/// (focus, select, insert text as typed), `screenshot {path}`,
/// `report` (`{console_errors, requests, dialogs}`), `quit`.
final class BrowserSession: @unchecked Sendable {
    // @unchecked: used from the test's thread only; the process handle is thread-safe.
    private let process: Process
    private let input: FileHandle
    private let output: Int32
    private var buffer: [UInt8] = []
    let profileDir: String

    /// Whether the test can run: chromium and the websocket module are installed.
    static var available: Bool {
        guard FileManager.default.isExecutableFile(atPath: chromiumPath) else { return false }
        let c = try? Command.run("python3", ["-c", "import websocket"], timeout: 20)
        return c?.status == 0
    }

    /// `/usr/bin/chromium` (Debian), or `$SLUICE_CHROMIUM`.
    static var chromiumPath: String { ProcessInfo.processInfo.environment["SLUICE_CHROMIUM"] ?? "/usr/bin/chromium" }

    /// Starts Chromium (headless, fresh profile, 1280×900) and the driver.
    init(promptText: String = "") throws {
        profileDir = NSTemporaryDirectory() + "sluice-chromium-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: profileDir, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", "-c", Self.driver, Self.chromiumPath, profileDir, promptText]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        try process.run()
        input = stdin.fileHandleForWriting
        output = stdout.fileHandleForReading.fileDescriptor
        let hello = try readLine(timeout: 30)
        guard hello["ok"] as? Bool == true else { throw TestError("browser driver did not start: \(hello)") }
    }

    deinit {
        if process.isRunning {
            _ = try? send(["cmd": "quit"], timeout: 5)
            usleep(200_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: profileDir)
    }

    /// Sends one command and returns its answer; throws on a driver error or timeout.
    @discardableResult
    func send(_ command: [String: Any], timeout: Double = 30) throws -> [String: Any] {
        var data = try JSONSerialization.data(withJSONObject: command)
        data.append(UInt8(ascii: "\n"))
        try input.write(contentsOf: data)
        let answer = try readLine(timeout: timeout)
        if let error = answer["error"] as? String { throw TestError("browser \(command["cmd"] ?? "?"): \(error)") }
        return answer
    }

    func navigate(_ url: String) throws { try send(["cmd": "navigate", "url": url]) }

    /// The value of a JavaScript expression (JSON-serializable).
    func eval(_ expr: String) throws -> Any? { try send(["cmd": "eval", "expr": expr])["value"] }

    /// Waits until `expr` is truthy; returns the seconds it took, or throws after `timeout`.
    @discardableResult
    func wait(_ expr: String, timeout: Double) throws -> Double {
        let r = try send(["cmd": "wait", "expr": expr, "timeout": timeout], timeout: timeout + 10)
        return (r["elapsed"] as? Double) ?? 0
    }

    func click(_ selector: String) throws { try send(["cmd": "click", "selector": selector]) }

    /// Focuses an input, selects its text and types `text` over it (real key input).
    func type(_ selector: String, _ text: String) throws { try send(["cmd": "type", "selector": selector, "text": text]) }

    func screenshot(_ path: String) throws { try send(["cmd": "screenshot", "path": path]) }

    /// Console errors, requested URLs and dialogs seen so far.
    func report() throws -> (consoleErrors: [String], requests: [String], dialogs: [String]) {
        let r = try send(["cmd": "report"])
        return ((r["console_errors"] as? [String]) ?? [], (r["requests"] as? [String]) ?? [], (r["dialogs"] as? [String]) ?? [])
    }

    private func readLine(timeout: Double) throws -> [String: Any] {
        let deadline = monotonicSeconds() + timeout
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw TestError("browser driver said: \(String(decoding: line, as: UTF8.self))")
                }
                return object
            }
            let left = deadline - monotonicSeconds()
            if left <= 0 { throw TestError("browser driver silent for \(timeout) s") }
            var pfd = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, Int32(min(left, 1) * 1000)) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = Glibc.read(output, &chunk, chunk.count)
            if n <= 0 { throw TestError("browser driver exited (status \(process.isRunning ? -1 : process.terminationStatus))") }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Where screenshots go: `$SLUICE_ARTIFACTS`, else `.build/artifacts` under the repository (ignored by git).
    static func artifactsDirectory() throws -> String {
        let dir = ProcessInfo.processInfo.environment["SLUICE_ARTIFACTS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? repoRoot().appendingPathComponent(".build/artifacts").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The driver, run as `python3 -u -c DRIVER CHROMIUM PROFILE PROMPT_TEXT`.
    static let driver = #"""
import json, os, subprocess, sys, threading, time, base64, urllib.request
import websocket

chromium, profile, prompt_text = sys.argv[1], sys.argv[2], sys.argv[3]
browser = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--metrics-recording-only", "--disable-default-apps",
    "--remote-debugging-port=0", "--user-data-dir=" + profile, "--window-size=1280,900", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

port_file = os.path.join(profile, "DevToolsActivePort")
deadline = time.time() + 20
while not os.path.exists(port_file) or not open(port_file).read().strip():
    if time.time() > deadline or browser.poll() is not None:
        answer({"error": "chromium did not open its DevTools port"}); sys.exit(1)
    time.sleep(0.05)
devtools_port = int(open(port_file).read().split()[0])
pages = []
while not pages:
    pages = [t for t in json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % devtools_port)) if t["type"] == "page"]
    time.sleep(0.05)
ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], suppress_origin=True, timeout=None)

lock = threading.Lock()
pending = {}
events = {"console_errors": [], "requests": [], "dialogs": []}
load_fired = threading.Event()
next_id = [0]

def reader():
    while True:
        try:
            msg = json.loads(ws.recv())
        except Exception:
            return
        if "id" in msg:
            with lock:
                slot = pending.get(msg["id"])
            if slot:
                slot[1] = msg
                slot[0].set()
            continue
        method, p = msg.get("method"), msg.get("params", {})
        with lock:
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                events["console_errors"].append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                events["console_errors"].append("exception: " + str(d.get("exception", {}).get("description", d.get("text"))))
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                events["console_errors"].append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
            elif method == "Network.requestWillBeSent":
                events["requests"].append(p["request"]["method"] + " " + p["request"]["url"])
            elif method == "Page.javascriptDialogOpening":
                events["dialogs"].append(p.get("type", "") + ": " + p.get("message", ""))
        if method == "Page.javascriptDialogOpening":
            threading.Thread(target=call, args=("Page.handleJavaScriptDialog", {"accept": True, "promptText": prompt_text}), daemon=True).start()
        elif method == "Page.loadEventFired":
            load_fired.set()

def call(method, params=None, timeout=30):
    with lock:
        next_id[0] += 1
        i = next_id[0]
        slot = [threading.Event(), None]
        pending[i] = slot
    ws.send(json.dumps({"id": i, "method": method, "params": params or {}}))
    if not slot[0].wait(timeout):
        raise RuntimeError(method + " timed out")
    with lock:
        del pending[i]
    if "error" in slot[1]:
        raise RuntimeError(method + ": " + json.dumps(slot[1]["error"]))
    return slot[1].get("result", {})

def evaluate(expr):
    r = call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
    if "exceptionDetails" in r:
        raise RuntimeError("evaluate: " + json.dumps(r["exceptionDetails"].get("exception", {}).get("description", r["exceptionDetails"].get("text"))))
    return r.get("result", {}).get("value")

threading.Thread(target=reader, daemon=True).start()
for domain in ("Runtime", "Log", "Network", "Page"):
    call(domain + ".enable")
call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
answer({"ok": True})

for line in sys.stdin:
    if not line.strip():
        continue
    cmd = json.loads(line)
    try:
        c = cmd["cmd"]
        if c == "navigate":
            load_fired.clear()
            call("Page.navigate", {"url": cmd["url"]})
            if not load_fired.wait(20):
                raise RuntimeError("page did not load")
            answer({"ok": True})
        elif c == "eval":
            answer({"value": evaluate(cmd["expr"])})
        elif c == "wait":
            start = time.time()
            value, last = None, None
            while True:
                try:
                    value = evaluate(cmd["expr"])
                    last = value
                except RuntimeError as e:  # e.g. the element is not there yet: keep polling
                    value, last = None, str(e)[:300]
                if value:
                    break
                if time.time() - start > cmd.get("timeout", 10):
                    raise RuntimeError("timed out after %.1f s waiting for %s (last: %r)" % (time.time() - start, cmd["expr"], last))
                time.sleep(0.05)
            answer({"value": value, "elapsed": time.time() - start})
        elif c == "click":
            sel = json.dumps(cmd["selector"])
            box = evaluate("(() => { const e = document.querySelector(%s); if (!e) return null; e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2, disabled: !!e.disabled}; })()" % sel)
            if box is None:
                raise RuntimeError("no element " + cmd["selector"])
            if box["disabled"]:
                raise RuntimeError("element " + cmd["selector"] + " is disabled")
            for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
                call("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1})
            answer({"ok": True})
        elif c == "type":
            sel = json.dumps(cmd["selector"])
            if not evaluate("(() => { const e = document.querySelector(%s); if (!e) return false; e.focus(); e.select(); return true; })()" % sel):
                raise RuntimeError("no element " + cmd["selector"])
            call("Input.insertText", {"text": cmd["text"]})
            answer({"ok": True})
        elif c == "screenshot":
            evaluate("window.scrollTo(0, 0)")
            data = call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
            with open(cmd["path"], "wb") as f:
                f.write(base64.b64decode(data))
            answer({"ok": True})
        elif c == "report":
            with lock:
                answer(json.loads(json.dumps(events)))
        elif c == "quit":
            answer({"ok": True})
            break
        else:
            raise RuntimeError("unknown command " + c)
    except Exception as e:
        answer({"error": str(e)})

try:
    ws.close()
except Exception:
    pass
browser.terminate()
try:
    browser.wait(5)
except Exception:
    browser.kill()
"""#
}
