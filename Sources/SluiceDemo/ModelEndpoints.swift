import SluiceStats
import Foundation

/// The `ModelServer`'s endpoints:
///
/// | request | answer |
/// |---|---|
/// | `POST /v1/models/NAME/predict`, `POST /v1/models/NAME:predict`, `POST /v2/models/NAME/infer` | prediction JSON (see `FraudModel`); 400 JSON for malformed JSON |
/// | `GET /v1/models/NAME`, `GET /v2/models/NAME` | model status `{"model_version_status": [{"version", "state": "AVAILABLE"}]}` (health-check path; no injected latency or errors) |
/// | `GET` or `POST /echo` | `{"method", "path", "query", "headers": {lowercased name: value}, "header_list": [[name, value]], "body_length", "model_version"}` |
/// | `GET /bytes/N` | N pattern bytes (`PatternBytes`) with Content-Length, written in 64 KiB pieces |
/// | `GET /chunked/N` | N pattern bytes with chunked encoding |
/// | `POST /sink` | reads the body without keeping it, answers `{"received": N}` |
/// | any method `/status/CODE` | status CODE with `{"status": CODE}` |
/// | any method `/hints` | `103 Early Hints` (a `link` field) first, then 200 `{"hinted": true}` |
///
/// Before answering (except the status paths) the server sleeps `baseLatencyMicros` plus the request's
/// `x-delay-ms` header, if any, and answers 500 `{"error": "model_error", ...}` with probability `errorRate`.
enum ModelEndpoints {
    /// What a path names, after method-independent matching.
    enum Kind: Equatable {
        case predict(model: String)
        case modelStatus(model: String)
        case echo, bytes(Int), chunked(Int), sink, status(Int), hints, notFound
    }

    /// Classifies `path`.
    static func classify(_ path: String) -> Kind {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // parts[0] is "" for absolute paths.
        guard parts.count >= 2, parts[0].isEmpty else { return .notFound }
        switch (parts.count, parts[1]) {
        case (2, "echo"): return .echo
        case (2, "sink"): return .sink
        case (2, "hints"): return .hints
        case (3, "bytes"): return Int(parts[2]).map { $0 >= 0 ? .bytes($0) : .notFound } ?? .notFound
        case (3, "chunked"): return Int(parts[2]).map { $0 >= 0 ? .chunked($0) : .notFound } ?? .notFound
        case (3, "status"): return Int(parts[2]).map { (200...599).contains($0) ? .status($0) : .notFound } ?? .notFound
        default: break
        }
        guard parts.count >= 4, parts[2] == "models", !parts[3].isEmpty else { return .notFound }
        let name = parts[3]
        if parts[1] == "v1" {
            if parts.count == 4 {
                if let colon = name.firstIndex(of: ":") {
                    return name[name.index(after: colon)...] == "predict" ? .predict(model: String(name[..<colon])) : .notFound
                }
                return .modelStatus(model: name)
            }
            if parts.count == 5 && parts[4] == "predict" { return .predict(model: name) }
        } else if parts[1] == "v2" {
            if parts.count == 4 { return .modelStatus(model: name) }
            if parts.count == 5 && parts[4] == "infer" { return .predict(model: name) }
            if parts.count == 5 && parts[4] == "ready" { return .modelStatus(model: name) }
        }
        return .notFound
    }

    /// Answers `request` under `behavior` (sleeping for the injected latency first).
    static func answer(_ request: ModelRequest, behavior: ModelBehavior) -> ModelResponse {
        let started = ModelClock.nowMicros()
        let kind = classify(request.path)
        if case .modelStatus(let model) = kind {
            guard request.method == "GET" || request.method == "HEAD" else { return methodNotAllowed("GET") }
            return modelStatus(model, behavior)
        }
        let extra = UInt64(request.header("x-delay-ms").flatMap { UInt64($0) } ?? 0) &* 1000
        ModelClock.sleep(micros: behavior.baseLatencyMicros &+ extra)
        if behavior.errorRate > 0 && kind != .notFound && Double.random(in: 0..<1) < behavior.errorRate {
            return .error(500, "model_error", "injected failure (error rate \(behavior.errorRate)) in \(behavior.modelVersion)")
        }
        switch kind {
        case .predict(let model):
            guard request.method == "POST" else { return methodNotAllowed("POST") }
            return FraudModel.predict(request, modelName: model, behavior: behavior, started: started)
        case .echo:
            return echo(request, behavior)
        case .bytes(let n):
            guard request.method == "GET" || request.method == "HEAD" else { return methodNotAllowed("GET") }
            return ModelResponse(status: 200, headers: [("content-type", "application/octet-stream")], body: .generated(count: n, chunked: false))
        case .chunked(let n):
            guard request.method == "GET" || request.method == "HEAD" else { return methodNotAllowed("GET") }
            return ModelResponse(status: 200, headers: [("content-type", "application/octet-stream")], body: .generated(count: n, chunked: true))
        case .sink:
            guard request.method == "POST" || request.method == "PUT" else { return methodNotAllowed("POST") }
            return .json(200, "{\"received\": \(request.bodyLength)}")
        case .status(let code):
            return .json(code, "{\"status\": \(code), \"model_version\": \(JSONText.quote(behavior.modelVersion))}")
        case .hints:
            var r = ModelResponse.json(200, "{\"hinted\": true, \"model_version\": \(JSONText.quote(behavior.modelVersion))}")
            r.earlyHints = "</model.css>; rel=preload"
            return r
        case .modelStatus, .notFound:
            return .error(404, "not_found", "no endpoint \(request.method) \(request.path)")
        }
    }

    private static func methodNotAllowed(_ allowed: String) -> ModelResponse {
        var r = ModelResponse.error(405, "method_not_allowed", "use \(allowed)")
        r.headers.append(("allow", allowed))
        return r
    }

    private static func modelStatus(_ model: String, _ behavior: ModelBehavior) -> ModelResponse {
        .json(200, """
        {"model_version_status": [{"version": \(JSONText.quote(behavior.modelVersion)), "state": "AVAILABLE", \
        "status": {"error_code": "OK", "error_message": ""}}], "model_name": \(JSONText.quote(model))}
        """)
    }

    private static func echo(_ request: ModelRequest, _ behavior: ModelBehavior) -> ModelResponse {
        var merged: [(String, String)] = []
        for (name, value) in request.headers {
            if let i = merged.firstIndex(where: { $0.0 == name }) { merged[i].1 += ", " + value }
            else { merged.append((name, value)) }
        }
        let dict = merged.map { "\(JSONText.quote($0.0)): \(JSONText.quote($0.1))" }.joined(separator: ", ")
        let list = request.headers.map { "[\(JSONText.quote($0.name)), \(JSONText.quote($0.value))]" }.joined(separator: ", ")
        return .json(200, """
        {"method": \(JSONText.quote(request.method)), "path": \(JSONText.quote(request.path)), \
        "query": \(JSONText.quote(request.query)), "headers": {\(dict)}, "header_list": [\(list)], \
        "body_length": \(request.bodyLength), "model_version": \(JSONText.quote(behavior.modelVersion))}
        """)
    }
}
