/// How a route matches the model a request names (`match.model` / `match.model_prefix`).
public enum ModelMatch: Sendable, Hashable {
    /// The model name must equal these bytes.
    case exact([UInt8])
    /// The model name must start with these bytes.
    case prefix([UInt8])

    /// Whether `name` satisfies this match.
    @inlinable
    public func accepts(_ name: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .exact(let m): return AttributeScan.equals(name, m)
        case .prefix(let m): return AttributeScan.hasPrefix(name, m)
        }
    }

    /// The label used in stats and metrics: the name, or the prefix followed by `*`.
    public var label: String {
        switch self {
        case .exact(let m): return String(decoding: m, as: UTF8.self)
        case .prefix(let m): return String(decoding: m, as: UTF8.self) + "*"
        }
    }
}

/// Where a request names its model, decided by its path alone.
public enum ModelSource: Sendable, Equatable {
    /// The path names it: these bytes of the path are the name.
    case path(Range<Int>)
    /// An OpenAI-style JSON body's top-level `model` string.
    case jsonBody
    /// The first gRPC message, field 1 (a string): KServe v2 `ModelInferRequest.model_name`.
    case grpcField1
    /// The first gRPC message, field 1 (a message) then its field 1 (a string): TF Serving `model_spec.name`.
    case grpcModelSpec
    /// The request has no model this Sluice knows how to find.
    case none

    /// The source for `path` (query string excluded):
    /// - `/v1/models/NAME[...]` (KServe v1, TF Serving REST `NAME[/versions/V|/labels/L][:verb]`):
    ///   NAME ends at the first `/` or `:`;
    /// - `/v2/models/NAME[...]` (KServe v2 / Triton REST): NAME ends at the first `/`;
    /// - `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`: the JSON body (POST only, see
    ///   ``forRequest(path:method:)``);
    /// - `/inference.GRPCInferenceService/ModelInfer` (and `ModelStreamInfer`, `ModelMetadata`,
    ///   `ModelReady`): gRPC field 1;
    /// - `/tensorflow.serving.PredictionService/Predict` (and `Classify`, `Regress`,
    ///   `GetModelMetadata`): gRPC `model_spec.name`.
    public static func forPath(_ path: UnsafeRawBufferPointer) -> ModelSource {
        if AttributeScan.hasPrefix(path, v1Models) {
            return name(path, from: v1Models.count, stopAtColon: true)
        }
        if AttributeScan.hasPrefix(path, v2Models) {
            return name(path, from: v2Models.count, stopAtColon: false)
        }
        for p in jsonPaths where AttributeScan.equals(path, p) { return .jsonBody }
        if AttributeScan.hasPrefix(path, kserveService) {
            let method = UnsafeRawBufferPointer(rebasing: path[kserveService.count...])
            for m in kserveMethods where AttributeScan.equals(method, m) { return .grpcField1 }
            return .none
        }
        if AttributeScan.hasPrefix(path, tfService) {
            let method = UnsafeRawBufferPointer(rebasing: path[tfService.count...])
            for m in tfMethods where AttributeScan.equals(method, m) { return .grpcModelSpec }
        }
        return .none
    }

    /// ``forPath(_:)``, except that a JSON body is only read from a `POST`.
    public static func forRequest(path: UnsafeRawBufferPointer, method: UnsafeRawBufferPointer) -> ModelSource {
        let s = forPath(path)
        if s == .jsonBody && !AttributeScan.equals(method, post) { return .none }
        return s
    }

    /// Whether the name is in the body (the route cannot be chosen from the head alone).
    public var isBody: Bool {
        switch self {
        case .jsonBody, .grpcField1, .grpcModelSpec: return true
        case .path, .none: return false
        }
    }

    static func name(_ path: UnsafeRawBufferPointer, from start: Int, stopAtColon: Bool) -> ModelSource {
        var end = start
        while end < path.count {
            let c = path[end]
            if c == UInt8(ascii: "/") || (stopAtColon && c == UInt8(ascii: ":")) { break }
            end += 1
        }
        return end > start ? .path(start..<end) : .none
    }

    static let v1Models: [UInt8] = Array("/v1/models/".utf8)
    static let v2Models: [UInt8] = Array("/v2/models/".utf8)
    static let post: [UInt8] = Array("POST".utf8)
    static let jsonPaths: [[UInt8]] = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"].map { Array($0.utf8) }
    static let kserveService: [UInt8] = Array("/inference.GRPCInferenceService/".utf8)
    static let kserveMethods: [[UInt8]] = ["ModelInfer", "ModelStreamInfer", "ModelMetadata", "ModelReady"].map { Array($0.utf8) }
    static let tfService: [UInt8] = Array("/tensorflow.serving.PredictionService/".utf8)
    static let tfMethods: [[UInt8]] = ["Predict", "Classify", "Regress", "GetModelMetadata"].map { Array($0.utf8) }
}
