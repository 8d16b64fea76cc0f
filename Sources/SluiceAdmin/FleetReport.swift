import SluiceFleet
import SluiceProxy
import SluiceRouting
import SluiceStats

/// The fleet's part of `/stats` and `/metrics` (docs/fleet.md), present only when `fleet` is configured.
enum FleetReport {
    /// `fleet: {name, instance, connected, leader, members, generation, etcd_writes, etcd_reads, last_error}`.
    static func statsObject(_ f: FleetStatusSnapshot) -> JSONValue {
        .obj([
            "name": .string(f.name),
            "instance": .string(f.instance),
            "connected": .bool(f.connected),
            "leader": .optionalString(f.leader),
            "is_leader": .bool(f.isLeader),
            "members": .array(f.members.map { .string($0) }),
            "generation": .uint(f.generation),
            "etcd_writes": .uint(f.etcdWrites),
            "etcd_reads": .uint(f.etcdReads),
            "last_error": .optionalString(f.lastError),
        ])
    }

    /// A route's `fleet` member: the generation applied, and the merged window of every live replica as the
    /// leader last evaluated it (`window: null` before its first evaluation), next to the local `targets[].window`.
    static func routeObject(control: ControlPlane, route: Route, table: RouteTable) -> JSONValue {
        var window = JSONValue.null
        if let w = control.fleetWindow(route: route.name) {
            window = .obj([
                "seconds": .integer(w.seconds),
                "targets": .array(route.targets.indices.map { t in
                    let f: FleetMergedWindow.Target? = t < w.targets.count ? w.targets[t] : nil
                    let requests = f?.requests ?? 0
                    return .obj([
                        "backend": .string(table.backends[route.targets[t].backend].name),
                        "requests": .uint(requests),
                        "errors": .uint(f?.errors ?? 0),
                        // Nothing measured is null, as in /stats/history: a 0 ms p99 would read as data.
                        "error_rate": requests == 0 ? .null : .double(Double(f?.errors ?? 0) / Double(requests)),
                        "p50_ms": requests == 0 ? .null : .double(Double(f?.p50Micros ?? 0) / 1000),
                        "p99_ms": requests == 0 ? .null : .double(Double(f?.p99Micros ?? 0) / 1000),
                    ])
                }),
            ])
        }
        return .obj([
            "generation": control.fleetGeneration(route: route.name).map { .uint($0) } ?? .null,
            "window": window,
        ])
    }

    /// `sluice_fleet_members`, `sluice_fleet_leader`, `sluice_fleet_generation`, `sluice_fleet_connected`,
    /// `sluice_fleet_etcd_writes_total`.
    static func writeMetrics(_ w: inout PrometheusWriter, _ f: FleetStatusSnapshot) {
        let labels = [("fleet", f.name), ("instance", f.instance)]
        w.family(name: "sluice_fleet_members", help: "Live replicas of the fleet (lease-bound keys in etcd).", type: .gauge)
        w.sample(name: "sluice_fleet_members", labels: labels, value: f.members.count)
        w.family(name: "sluice_fleet_leader", help: "1 on the fleet's leader, 0 on the other replicas.", type: .gauge)
        w.sample(name: "sluice_fleet_leader", labels: labels, value: f.isLeader ? 1 : 0)
        w.family(name: "sluice_fleet_generation", help: "Fleet-wide generation, raised by every state change.", type: .gauge)
        w.sample(name: "sluice_fleet_generation", labels: labels, value: f.generation)
        w.family(name: "sluice_fleet_connected", help: "1 while etcd answers this replica.", type: .gauge)
        w.sample(name: "sluice_fleet_connected", labels: labels, value: f.connected ? 1 : 0)
        w.family(name: "sluice_fleet_etcd_writes_total", help: "etcd calls that write (put, txn, lease grant/renew/revoke) by this replica.", type: .counter)
        w.sample(name: "sluice_fleet_etcd_writes_total", labels: labels, value: f.etcdWrites)
    }
}
