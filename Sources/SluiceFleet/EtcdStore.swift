import Foundation
import SluiceSupport

/// ``FleetStore`` over etcd v3's JSON gateway (`/v3/kv/range`, `/v3/kv/txn`, `/v3/lease/*`, `/v3/watch`)
/// with Sluice's blocking HTTP/1.1 client: no gRPC or protobuf code to generate and build (docs/fleet.md).
///
/// Keys and values travel base64-encoded, 64-bit integers as decimal strings. Endpoints are tried in order:
/// after a failed call the next call goes to the next endpoint. Not thread-safe: one instance per thread
/// (the agent's calls, and a second instance for the watch thread).
public final class EtcdStore: FleetStore {
    /// `host:port` of every endpoint.
    public let endpoints: [(host: String, port: UInt16)]
    /// Timeout of connect, send and each read, in seconds.
    public let timeoutSeconds: Double
    private var current = 0
    private var client: SimpleHTTPClient
    /// Calls that write to etcd's log (put, txn, lease grant/renew/revoke), for the cost figures.
    public private(set) var writes: UInt64 = 0
    /// Reads (range) made.
    public private(set) var reads: UInt64 = 0

    /// Creates a store over `endpoints` (at least one).
    public init(endpoints: [(host: String, port: UInt16)], timeoutSeconds: Double = 1) {
        precondition(!endpoints.isEmpty, "EtcdStore needs an endpoint")
        self.endpoints = endpoints
        self.timeoutSeconds = timeoutSeconds
        client = SimpleHTTPClient(host: endpoints[0].host, port: endpoints[0].port, timeoutSeconds: timeoutSeconds)
    }

    /// The endpoint in use, `host:port`.
    public var endpointDescription: String { "\(client.host):\(client.port)" }

    // MARK: - FleetStore

    public func get(_ key: String, prefix: Bool, keysOnly: Bool) throws(FleetStoreError) -> (kvs: [FleetKeyValue], revision: Int64) {
        var body: [String: Any] = ["key": Self.b64(key)]
        if prefix { body["range_end"] = Self.b64(Self.prefixEnd(key)) }
        if keysOnly { body["keys_only"] = true }
        reads += 1
        let json = try call("/v3/kv/range", body)
        return (Self.kvs(json["kvs"]), Self.int(Self.header(json)["revision"]))
    }

    public func txn(_ compares: [FleetCompare], success: [FleetOperation], failure: [FleetOperation]) throws(FleetStoreError) -> FleetTxnResult {
        let body: [String: Any] = [
            "compare": compares.map { c -> [String: Any] in
                switch c {
                case .modRevision(let k, let r): ["key": Self.b64(k), "target": "MOD", "result": "EQUAL", "mod_revision": String(r)]
                case .createRevision(let k, let r): ["key": Self.b64(k), "target": "CREATE", "result": "EQUAL", "create_revision": String(r)]
                }
            },
            "success": success.map(Self.op),
            "failure": failure.map(Self.op),
        ]
        writes += 1
        let json = try call("/v3/kv/txn", body)
        let succeeded = json["succeeded"] as? Bool ?? false
        var reads: [[FleetKeyValue]] = []
        for r in json["responses"] as? [[String: Any]] ?? [] {
            if let range = r["response_range"] as? [String: Any] { reads.append(Self.kvs(range["kvs"])) }
        }
        return FleetTxnResult(succeeded: succeeded, revision: Self.int(Self.header(json)["revision"]), reads: reads)
    }

    public func grantLease(ttlSeconds: Int) throws(FleetStoreError) -> Int64 {
        writes += 1
        let json = try call("/v3/lease/grant", ["TTL": String(ttlSeconds)])
        let id = Self.int(json["ID"])
        guard id != 0 else { throw FleetStoreError("etcd \(endpointDescription) granted no lease: \(json["error"] ?? "no ID")") }
        return id
    }

    public func keepAlive(_ lease: Int64) throws(FleetStoreError) -> Bool {
        writes += 1
        let json = try call("/v3/lease/keepalive", ["ID": String(lease)])
        let result = json["result"] as? [String: Any] ?? json
        return Self.int(result["TTL"]) > 0
    }

    public func revoke(_ lease: Int64) throws(FleetStoreError) {
        writes += 1
        _ = try call("/v3/lease/revoke", ["ID": String(lease)], allowErrors: true)
    }

    public func watch(prefix: String, from: Int64, onEvents: ([FleetWatchEvent], Int64) -> Bool,
                      keepGoing: () -> Bool) throws(FleetStoreError) {
        let body: [String: Any] = ["create_request": [
            "key": Self.b64(prefix), "range_end": Self.b64(Self.prefixEnd(prefix)), "start_revision": String(from),
        ]]
        let text = Self.encode(body)
        let stream = SimpleHTTPClient(host: client.host, port: client.port, timeoutSeconds: 1)
        var pending: [UInt8] = []
        var failure: FleetStoreError?
        do {
            let status = try stream.stream("POST", "/v3/watch", text: text, onData: { bytes in
                pending += bytes
                while let nl = pending.firstIndex(of: 10) {
                    let line = Array(pending[..<nl])
                    pending.removeFirst(nl + 1)
                    guard !line.isEmpty, let json = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else { continue }
                    if let error = json["error"] {
                        failure = FleetStoreError("etcd watch error: \(error)")
                        return false
                    }
                    guard let result = json["result"] as? [String: Any] else { continue }
                    if result["canceled"] as? Bool == true {
                        failure = FleetStoreError("etcd canceled the watch: \(result["cancel_reason"] ?? "compacted")")
                        return false
                    }
                    let revision = Self.int(Self.header(result)["revision"])
                    let events = (result["events"] as? [[String: Any]] ?? []).compactMap { e -> FleetWatchEvent? in
                        guard let kv = Self.kv(e["kv"]) else { return nil }
                        return FleetWatchEvent(kv: kv, deleted: (e["type"] as? String) == "DELETE")
                    }
                    if !onEvents(events, revision) { return false }
                }
                return true
            }, onIdle: keepGoing)
            if let failure { throw failure }
            if status != 200 { throw FleetStoreError("etcd \(client.host):\(client.port) answered the watch with \(status)") }
        } catch let e as FleetStoreError {
            throw e
        } catch {
            rotate()
            throw FleetStoreError("etcd watch on \(stream.host):\(stream.port): \(error)")
        }
    }

    // MARK: - Wire

    /// POSTs `body` as JSON to `path`; returns the decoded object. Moves to the next endpoint on failure.
    private func call(_ path: String, _ body: [String: Any], allowErrors: Bool = false) throws(FleetStoreError) -> [String: Any] {
        let response: SimpleHTTPResponse
        do {
            response = try client.request("POST", path, headers: [("content-type", "application/json")], text: Self.encode(body))
        } catch {
            let where_ = endpointDescription
            rotate()
            throw FleetStoreError("etcd \(where_) unreachable: \(error)")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
            throw FleetStoreError("etcd \(endpointDescription) answered \(path) with \(response.status) and no JSON")
        }
        if response.status != 200 && !allowErrors {
            throw FleetStoreError("etcd \(endpointDescription) refused \(path) (\(response.status)): \(json["message"] ?? json["error"] ?? "")")
        }
        return json
    }

    private func rotate() {
        client.close()
        current = (current + 1) % endpoints.count
        client = SimpleHTTPClient(host: endpoints[current].host, port: endpoints[current].port, timeoutSeconds: timeoutSeconds)
    }

    private static func op(_ o: FleetOperation) -> [String: Any] {
        switch o {
        case .put(let k, let v, let lease):
            var p: [String: Any] = ["key": b64(k), "value": Data(v).base64EncodedString()]
            if let lease { p["lease"] = String(lease) }
            return ["request_put": p]
        case .get(let k):
            return ["request_range": ["key": b64(k)]]
        }
    }

    private static func encode(_ body: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: body)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    /// The smallest key greater than every key starting with `prefix` (etcd's `range_end` for a prefix).
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.removeLast()
        }
        return "\0"
    }

    private static func header(_ json: [String: Any]) -> [String: Any] { json["header"] as? [String: Any] ?? [:] }

    private static func int(_ v: Any?) -> Int64 {
        if let s = v as? String { return Int64(s) ?? 0 }
        if let n = v as? NSNumber { return n.int64Value }
        return 0
    }

    private static func kvs(_ v: Any?) -> [FleetKeyValue] {
        (v as? [Any] ?? []).compactMap { kv($0) }
    }

    private static func kv(_ v: Any?) -> FleetKeyValue? {
        guard let o = v as? [String: Any], let k = o["key"] as? String, let kd = Data(base64Encoded: k) else { return nil }
        let value = (o["value"] as? String).flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? []
        return FleetKeyValue(key: String(decoding: kd, as: UTF8.self), value: value, createRevision: int(o["create_revision"]),
                             modRevision: int(o["mod_revision"]), lease: int(o["lease"]))
    }
}
