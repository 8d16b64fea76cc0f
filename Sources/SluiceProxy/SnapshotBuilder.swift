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

    /// Resolves endpoints, builds TLS contexts and attaches stats; `generation` must exceed every
    /// earlier one. `health` (when given) supplies the endpoints' health objects, kept across
    /// reloads. `file` (the config's path) prefixes errors that carry a config line.
    public static func build(_ config: SluiceConfig, registry: StatsRegistry, health: EndpointHealthRegistry? = nil,
                             generation: UInt64, configVersion: Int, file: String? = nil) throws(Failure) -> ProxySnapshot {
        let table = config.routeTable
        var addresses: [SocketAddress] = []
        var index: [SocketAddress: Int] = [:]
        var perBackend: [[Int]] = []
        var problems: [String] = []
        var endpointTLS: [UpstreamTLS?] = []
        var firstBackend: [Int] = []
        var clientContexts = UpstreamContextCache()
        for (b, backend) in table.backends.enumerated() {
            var ids: [Int] = []
            for (e, endpoint) in backend.endpoints.enumerated() {
                guard let address = SocketAddress(host: endpoint.host, port: endpoint.port) else {
                    problems.append("backends[\(b)].endpoints[\(e)]: cannot resolve \(endpoint.host)")
                    continue
                }
                let peer = backend.tls.map { TLSPeer($0, endpoint: endpoint) }
                let id: Int
                if let i = index[address] {
                    // One address, one way to reach it: pools, health and ejection are per address.
                    guard endpointTLS[i]?.peer == peer else {
                        problems.append("backends[\(b)].endpoints[\(e)]: \(endpoint) is also an endpoint of backend "
                                        + "'\(table.backends[firstBackend[i]].name)' with other tls settings; backends "
                                        + "sharing an endpoint must agree on tls (on or off, ca, verify, server_name, "
                                        + "certificate, private_key)")
                        continue
                    }
                    id = i
                } else {
                    id = addresses.count
                    index[address] = id
                    addresses.append(address)
                    endpointTLS.append(peer.map { UpstreamTLS(peer: $0) })
                    firstBackend.append(b)
                }
                ids.append(id)
                if let tls = backend.tls, let peer, var upstream = endpointTLS[id] {
                    if backend.protocol == .h2, upstream.h2 == nil {
                        upstream.h2 = clientContexts.context(peer, alpn: "h2", backend: b, tls: tls, file: file, problems: &problems)
                    }
                    // HTTP/1.1 backends, and the health probes (HTTP/1.1 GETs) of any backend.
                    if backend.protocol == .http1 || backend.healthCheck != nil, upstream.http1 == nil {
                        upstream.http1 = clientContexts.context(peer, alpn: "http/1.1", backend: b, tls: tls, file: file, problems: &problems)
                    }
                    endpointTLS[id] = upstream
                }
            }
            perBackend.append(ids)
        }
        var contexts: [String: TLSContext] = [:]
        for (i, l) in config.listeners.enumerated() {
            guard let tls = l.tls else { continue }
            do {
                contexts[l.name] = try TLSContext.server(certificatePath: tls.certificate, privateKeyPath: tls.privateKey)
            } catch {
                problems.append(error.configProblem(at: "listeners[\(i)].tls", line: tls.certificateLine, identity: tls, file: file))
            }
        }
        if !problems.isEmpty { throw Failure(messages: problems) }
        let stats = registry.bind(table)
        return ProxySnapshot(generation: generation, configVersion: configVersion, table: table, limits: config.limits,
                             endpoints: addresses, backendEndpoints: perBackend,
                             targetStats: stats.targets, shadowStats: stats.shadows, global: registry.global,
                             endpointHealth: health?.bind(addresses, workers: registry.workers), tlsContexts: contexts,
                             endpointTLS: endpointTLS)
    }
}
