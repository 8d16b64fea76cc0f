import Testing
import SluiceRouting

/// The body peek: JSON `model` and the first gRPC message's field 1, byte by byte.
struct ModelPeekTests {
    static func scan(_ source: ModelSource, _ bytes: [UInt8], complete: Bool = true, limit: Int = 16384) -> ModelPeekResult {
        bytes.withUnsafeBytes { ModelPeek.scan(source, $0, complete: complete, limit: limit) }
    }

    static func name(_ source: ModelSource, _ bytes: [UInt8], complete: Bool = true, limit: Int = 16384) -> String? {
        guard case .found(let r) = scan(source, bytes, complete: complete, limit: limit) else { return nil }
        return String(decoding: bytes[r], as: UTF8.self)
    }

    @Test func jsonModelFoundWhereverItIsAtTopLevel() {
        #expect(Self.name(.jsonBody, #"{"model":"llama-3","messages":[]}"#.bytes) == "llama-3")
        #expect(Self.name(.jsonBody, " \n{ \"messages\" : [{\"role\":\"user\",\"model\":\"inner\"}], \"n\": 2, \"x\": {\"model\": \"deep\"}, \"ok\": true, \"model\" : \"outer\" }".bytes) == "outer")
        #expect(Self.name(.jsonBody, #"{"prompt":"say \"model\": \"no\"","model":"m"}"#.bytes) == "m")
        #expect(Self.name(.jsonBody, #"{"temperature":0.5e-3,"stop":null,"model":"gpt"}"#.bytes) == "gpt")
    }

    @Test func jsonFailuresAreNamed() {
        #expect(Self.scan(.jsonBody, #"{"messages":[]}"#.bytes) == .notFound(.missing))
        #expect(Self.scan(.jsonBody, #"model=llama"#.bytes) == .notFound(.notJSON))
        #expect(Self.scan(.jsonBody, #"[{"model":"x"}]"#.bytes) == .notFound(.notJSON))
        #expect(Self.scan(.jsonBody, #"{"model":42}"#.bytes) == .notFound(.notString))
        #expect(Self.scan(.jsonBody, #"{"model":"a\u0062"}"#.bytes) == .notFound(.notString))
        #expect(Self.scan(.jsonBody, #"{"model" 1}"#.bytes) == .notFound(.notJSON))
        #expect(Self.scan(.jsonBody, []) == .notFound(.notJSON))
        #expect(Self.scan(.jsonBody, #"{"messages":["#.bytes) == .notFound(.notJSON))   // body ended mid-document
    }

    @Test func jsonWaitsForMoreUntilTheLimit() {
        let full = #"{"messages":[{"role":"user","content":"hi"}],"model":"mistral-7b"}"#.bytes
        for cut in 0..<(full.count - 2) {   // up to the name's closing quote
            let r = Self.scan(.jsonBody, Array(full[0..<cut]), complete: false)
            #expect(r == .needMore, "cut at \(cut)")
        }
        #expect(Self.name(.jsonBody, full, complete: false) == "mistral-7b")
        // 40 bytes held, the limit: the name is not complete within it.
        #expect(Self.scan(.jsonBody, Array(full[0..<40]), complete: false, limit: 40) == .notFound(.beyondLimit))
    }

    /// A gRPC frame (uncompressed) around `message`.
    static func frame(_ message: [UInt8], flag: UInt8 = 0) -> [UInt8] {
        let n = message.count
        return [flag, UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + message
    }

    static func lengthDelimited(_ field: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        precondition(bytes.count < 128)
        return [field << 3 | 2, UInt8(bytes.count)] + bytes
    }

    @Test func kserveModelNameIsField1() {
        // model_version (2) first, then a varint field 9 with a two-byte value, then model_name (1).
        let msg = Self.lengthDelimited(2, "3".bytes) + [9 << 3 | 0, 0x96, 0x01] + Self.lengthDelimited(1, "fraud".bytes)
        #expect(Self.name(.grpcField1, Self.frame(msg)) == "fraud")
        for cut in 0..<(Self.frame(msg).count) {
            #expect(Self.scan(.grpcField1, Array(Self.frame(msg)[0..<cut]), complete: false) == .needMore, "cut at \(cut)")
        }
    }

    @Test func tfServingModelSpecName() {
        let spec = Self.lengthDelimited(3, "serving_default".bytes) + Self.lengthDelimited(1, "resnet".bytes)
        let msg = Self.lengthDelimited(1, spec) + Self.lengthDelimited(2, "inputs".bytes)
        #expect(Self.name(.grpcModelSpec, Self.frame(msg)) == "resnet")
        #expect(Self.scan(.grpcModelSpec, Self.frame(Self.lengthDelimited(1, Self.lengthDelimited(3, "x".bytes)))) == .notFound(.missing))
    }

    @Test func grpcFailuresAreNamed() {
        #expect(Self.scan(.grpcField1, Self.frame(Self.lengthDelimited(1, "m".bytes), flag: 1)) == .notFound(.compressed))
        #expect(Self.scan(.grpcField1, Self.frame(Self.lengthDelimited(2, "m".bytes))) == .notFound(.missing))
        #expect(Self.scan(.grpcField1, Self.frame([1 << 3 | 0, 5])) == .notFound(.notString))
        // A length running past the message, a group wire type, field number 0.
        #expect(Self.scan(.grpcField1, Self.frame([1 << 3 | 2, 50, 65])) == .notFound(.notProtobuf))
        #expect(Self.scan(.grpcField1, Self.frame([2 << 3 | 3])) == .notFound(.notProtobuf))
        #expect(Self.scan(.grpcField1, Self.frame([0 << 3 | 2, 0])) == .notFound(.notProtobuf))
        // An eleven-byte varint.
        #expect(Self.scan(.grpcField1, Self.frame([2 << 3 | 0] + Array(repeating: 0xFF, count: 11) + [1])) == .notFound(.notProtobuf))
        #expect(Self.scan(.grpcField1, [0, 0, 0], complete: true) == .notFound(.notProtobuf))
        // A name larger than the limit.
        let big = Self.frame([1 << 3 | 2, 0x90, 0x03] + Array(repeating: UInt8(ascii: "a"), count: 400))
        #expect(Self.scan(.grpcField1, Array(big[0..<100]), complete: false, limit: 100) == .notFound(.beyondLimit))
    }

    @Test func sourcesByPath() {
        func source(_ path: String, _ method: String = "POST") -> ModelSource {
            let p = path.bytes, m = method.bytes
            return p.withUnsafeBytes { pb in m.withUnsafeBytes { ModelSource.forRequest(path: pb, method: $0) } }
        }
        func pathName(_ path: String) -> String? {
            guard case .path(let r) = source(path) else { return nil }
            return String(decoding: path.bytes[r], as: UTF8.self)
        }
        #expect(pathName("/v1/models/fraud-detector:predict") == "fraud-detector")
        #expect(pathName("/v1/models/fraud-detector/versions/3:predict") == "fraud-detector")
        #expect(pathName("/v1/models/fraud-detector/predict") == "fraud-detector")
        #expect(pathName("/v1/models/half_plus_two") == "half_plus_two")
        #expect(pathName("/v2/models/resnet/versions/2/infer") == "resnet")
        #expect(pathName("/v2/models/resnet:x/infer") == "resnet:x")
        #expect(source("/v1/models/") == .none)
        #expect(source("/v1/chat/completions") == .jsonBody)
        #expect(source("/v1/completions") == .jsonBody)
        #expect(source("/v1/embeddings") == .jsonBody)
        #expect(source("/v1/embeddings", "GET") == .none)
        #expect(source("/v1/chat/completions/x") == .none)
        #expect(source("/inference.GRPCInferenceService/ModelInfer") == .grpcField1)
        #expect(source("/inference.GRPCInferenceService/ServerLive") == .none)
        #expect(source("/tensorflow.serving.PredictionService/Predict") == .grpcModelSpec)
    }
}

/// `match.model` in the router: exact and prefix, fallbacks to later routes.
struct ModelRoutingTests {
    /// A request with a model name already found.
    struct Named: RequestAttributes {
        let base: TestRequest
        let name: UnsafeRawBufferPointer?
        var path: UnsafeRawBufferPointer { base.path }
        var rawQuery: UnsafeRawBufferPointer? { base.rawQuery }
        func header(_ n: [UInt8]) -> UnsafeRawBufferPointer? { base.header(n) }
        var model: UnsafeRawBufferPointer? { name }
    }

    static let table = RouteTable(backends: makeBackends(4), routes: [
        Route(name: "fraud", model: .exact("fraud".bytes), targets: [Target(backend: 0, weight: 10_000)]),
        Route(name: "llama", pathPrefix: "/v1/".bytes, model: .prefix("llama-".bytes), targets: [Target(backend: 1, weight: 10_000)]),
        Route(name: "health", pathPrefix: "/health".bytes, targets: [Target(backend: 2, weight: 10_000)]),
        Route(name: "rest", pathPrefix: "/v1/".bytes, targets: [Target(backend: 3, weight: 10_000)]),
    ])

    static func route(_ path: String, model: String?) -> String? {
        var rng = SplitMix64(seed: 3)
        let req = TestRequest(path)
        guard let model else {
            return Router.decide(table, Named(base: req, name: nil), rng: &rng).map { table.routes[$0.route].name }
        }
        let bytes = model.bytes
        return bytes.withUnsafeBytes { Router.decide(table, Named(base: req, name: $0), rng: &rng).map { table.routes[$0.route].name } }
    }

    @Test func modelRoutesMatchByNameAndFallThrough() {
        #expect(Self.route("/v1/models/fraud:predict", model: "fraud") == "fraud")
        #expect(Self.route("/v2/models/fraud/infer", model: "fraud") == "fraud")
        #expect(Self.route("/v1/chat/completions", model: "llama-3-8b") == "llama")
        #expect(Self.route("/v1/chat/completions", model: "fraudster") == "rest")
        #expect(Self.route("/v1/chat/completions", model: nil) == "rest")
        #expect(Self.route("/v2/x", model: nil) == nil)
        #expect(Self.table.usesModel)
    }

    @Test func modelIsNeededOnlyWhenAModelRouteComesFirst() {
        let t = TestRequest("/v1/chat/completions")
        #expect(Router.needsModel(Self.table, t))   // "fraud" has no path: it could take any request
        let healthFirst = RouteTable(backends: makeBackends(2), routes: [
            Route(name: "health", pathPrefix: "/health".bytes, targets: [Target(backend: 0, weight: 10_000)]),
            Route(name: "m", pathPrefix: "/".bytes, model: .exact("m".bytes), targets: [Target(backend: 1, weight: 10_000)]),
        ])
        #expect(!Router.needsModel(healthFirst, TestRequest("/health")))
        #expect(Router.needsModel(healthFirst, TestRequest("/v1/embeddings")))
        let plain = RouteTable(backends: makeBackends(1), routes: [Route(name: "a", pathPrefix: "/".bytes, targets: [Target(backend: 0, weight: 10_000)])])
        #expect(!plain.usesModel)
        #expect(!Router.needsModel(plain, t))
    }
}
