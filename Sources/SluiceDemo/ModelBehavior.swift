/// How a `ModelServer` behaves: the version it reports, how slow it is, how often it fails, and how its
/// predictions differ from another version's.
///
/// Latency and error injection apply to every endpoint except the model-status (health-check) paths
/// `GET /v1/models/NAME` and `GET /v2/models/NAME`, so a slow or failing model still looks alive to a
/// health checker, as a real model server with a bad model version would.
public struct ModelBehavior: Sendable, Equatable {
    /// The version reported in predictions, status answers and the `x-backend` header, e.g. `v2.3.1`.
    public var modelVersion: String
    /// Delay added before answering each request, in microseconds.
    public var baseLatencyMicros: UInt64
    /// Share of requests (0 ... 1) answered with a 500 JSON error instead of the endpoint's answer.
    public var errorRate: Double
    /// Added to the fraud probability, so two versions disagree slightly on the same input.
    public var fraudProbabilityOffset: Double

    /// Creates a behavior; `errorRate` is clamped to 0 ... 1.
    public init(modelVersion: String, baseLatencyMicros: UInt64 = 0, errorRate: Double = 0, fraudProbabilityOffset: Double = 0) {
        self.modelVersion = modelVersion
        self.baseLatencyMicros = baseLatencyMicros
        self.errorRate = min(1, max(0, errorRate.isNaN ? 0 : errorRate))
        self.fraudProbabilityOffset = fraudProbabilityOffset
    }
}
