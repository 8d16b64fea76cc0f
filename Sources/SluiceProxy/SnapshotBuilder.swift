import SluiceConfig
import SluiceCore
import SluiceTLS

/// Builds proxy snapshots from a validated config.
public enum SnapshotBuilder {
    /// Why a config that validated still cannot be served (an endpoint name that does not resolve).
    public struct Failure: Error, CustomStringConvertible {
        /// One line per problem.
        public let messages: [String]
        public var description: String { messages.joined(separator: "\n") }
    }

    /// Resolves endpoints and attaches stats; `generation` must exceed every earlier one.
    /// `health` (when given) supplies the endpoints' health objects, kept across reloads.
    public static func build(_ config: SluiceConfig, registry: StatsRegistry, health: EndpointHealthRegistry? = nil,
                             generation: UInt64, configVersion: Int) throws(Failure) -> ProxySnapshot {
        let table = config.routeTable
        var addresses: [SocketAddress] = []
        var index: [SocketAddress: Int] = [:]
        var perBackend: [[Int]] = []
        var problems: [String] = []
        for (b, backend) in table.backends.enumerated() {
            var ids: [Int] = []
            for (e, endpoint) in backend.endpoints.enumerated() {
                guard let address = SocketAddress(host: endpoint.host, port: endpoint.port) else {
                    problems.append("backends[\(b)].endpoints[\(e)]: cannot resolve \(endpoint.host)")
                    continue
                }
                if let i = index[address] { ids.append(i); continue }
                index[address] = addresses.count
                ids.append(addresses.count)
                addresses.append(address)
            }
            perBackend.append(ids)
        }
        var contexts: [String: TLSContext] = [:]
        for (i, l) in config.listeners.enumerated() {
            guard let tls = l.tls else { continue }
            do {
                contexts[l.name] = try TLSContext.server(certificatePath: tls.certificate, privateKeyPath: tls.privateKey)
            } catch {
                problems.append("listeners[\(i)].tls: \(error.message)")
            }
        }
        if !problems.isEmpty { throw Failure(messages: problems) }
        let stats = registry.bind(table)
        return ProxySnapshot(generation: generation, configVersion: configVersion, table: table, limits: config.limits,
                             endpoints: addresses, backendEndpoints: perBackend,
                             targetStats: stats.targets, shadowStats: stats.shadows, global: registry.global,
                             endpointHealth: health?.bind(addresses, workers: registry.workers), tlsContexts: contexts)
    }
}
