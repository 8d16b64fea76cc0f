import SluiceRouting
import SluiceStats

/// Where the model a request names stands before its route is chosen (routes with `match.model`).
///
/// The proxy asks only when the table has such routes and the first route whose path and headers
/// accept the request is one of them (``Router/needsModel(_:_:)``); every other request is routed
/// without looking, at the cost of one load of `RouteTable.usesModel`.
enum ModelLookup {
    /// Not needed: route without a model.
    case notNeeded
    /// The name, pointing into the request's path or held body bytes.
    case found(UnsafeRawBufferPointer)
    /// Needed but not there: routes with `match.model` are skipped; if nothing else matches, 400.
    case failed(ModelPeekFailure)
    /// The body may still name it: wait for more bytes (or the end of the body).
    case waiting

    /// The name to route by, if any.
    var name: UnsafeRawBufferPointer? {
        if case .found(let n) = self { return n }
        return nil
    }

    /// The first step, from the request head alone: `notNeeded`, a name from the path, a failure,
    /// or the body source to peek at (returned in `source` with `.waiting`).
    static func fromHead<R: RequestAttributes>(
        _ table: RouteTable, _ view: R, method: UnsafeRawBufferPointer, source: inout ModelSource
    ) -> ModelLookup {
        guard Router.needsModel(table, view) else { return .notNeeded }
        let path = view.path
        source = ModelSource.forRequest(path: path, method: method)
        switch source {
        case .path(let r): return .found(UnsafeRawBufferPointer(rebasing: path[r]))
        case .none: return .failed(.missing)
        case .jsonBody, .grpcField1, .grpcModelSpec: return .waiting
        }
    }

    /// The next step from the body bytes held (`body`, already cut to the peek limit).
    static func fromBody(_ source: ModelSource, _ body: UnsafeRawBufferPointer, complete: Bool, limit: Int) -> ModelLookup {
        switch ModelPeek.scan(source, body, complete: complete, limit: limit) {
        case .needMore: return .waiting
        case .found(let r): return .found(UnsafeRawBufferPointer(rebasing: body[r]))
        case .notFound(let reason): return .failed(reason)
        }
    }

    /// The 400 message when routes with `match.model` were all that could take the request.
    static func message(_ reason: ModelPeekFailure, limit: Int) -> String {
        switch reason {
        case .notJSON: return "the request body is not a JSON object, so its model cannot be read"
        case .notProtobuf: return "the first gRPC message is not valid protobuf, so its model cannot be read"
        case .compressed: return "the first gRPC message is compressed, so its model cannot be read"
        case .missing: return "the request does not name a model"
        case .notString: return "the request's model field is not a plain string"
        case .beyondLimit: return "the model name is not within the first \(limit) bytes of the body (limits.model_peek)"
        }
    }
}

/// Why no route took a request: the one table of answers for both kinds of client (counted, then
/// answered with 404 `no_route`, or 400 `model_not_found` when only `match.model` routes could have
/// taken it and the request names no model they know; gRPC callers get the matching status).
enum RoutingRefusal {
    case noRoute
    case modelNotFound(ModelPeekFailure)

    /// The refusal for a request whose model lookup ended as `model`.
    @inline(__always)
    init(_ model: ModelLookup) {
        if case .failed(let reason) = model { self = .modelNotFound(reason) } else { self = .noRoute }
    }

    var status: Int {
        switch self {
        case .noRoute: return 404
        case .modelNotFound: return 400
        }
    }

    var code: String {
        switch self {
        case .noRoute: return "no_route"
        case .modelNotFound: return "model_not_found"
        }
    }

    func message(modelPeek limit: Int) -> String {
        switch self {
        case .noRoute: return "no route matches this request"
        case .modelNotFound(let reason): return ModelLookup.message(reason, limit: limit)
        }
    }

    var counter: GlobalCounter {
        switch self {
        case .noRoute: return .noRoute
        case .modelNotFound: return .modelNotFound
        }
    }
}
