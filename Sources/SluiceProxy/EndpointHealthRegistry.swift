import SluiceCore

/// `EndpointHealth` objects by endpoint address (`host:port`), so an endpoint's health and
/// ejection state survive config reloads. Owned by the control plane and used under its lock.
public final class EndpointHealthRegistry {
    private var byAddress: [String: EndpointHealth] = [:]

    /// An empty registry.
    public init() {}

    /// The health objects of `addresses`, in order, reusing existing ones. Addresses no longer
    /// listed are forgotten (a later config naming them again starts them healthy).
    public func bind(_ addresses: [SocketAddress], workers: Int) -> [EndpointHealth] {
        var fresh: [String: EndpointHealth] = [:]
        let objects = addresses.map { address in
            let key = address.description
            let h = byAddress[key] ?? fresh[key] ?? EndpointHealth(address: key, workers: workers)
            fresh[key] = h
            return h
        }
        byAddress = fresh
        return objects
    }
}
