import Glibc
import Logging
import SluiceAdmin
import SluiceConfig
import SluiceCore
import SluiceFleet
import SluiceNotify
import SluiceProxy

/// Process lifecycle: start workers and the admin listener, then turn signals into
/// reloads (SIGHUP) and a graceful drain (SIGTERM/SIGINT), and tick the controller.
enum Supervisor {
    /// Blocks the signals the supervisor handles in the calling thread; threads started
    /// afterwards inherit the mask, so only `sigtimedwait` here ever receives them.
    static func blockSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGHUP)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
        return set
    }

    /// Workers to run: the config's number, or one per core.
    static func workerCount(_ config: SluiceConfig) -> Int {
        config.workers ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Starts everything for `config`; returns the exit status after a drain.
    static func run(config: SluiceConfig, configPath: String?, instance: String? = nil,
                    started: ((ControlPlane, ProxyServer, AdminServer?) -> Void)? = nil) -> Int32 {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "sluice")
        logger.logLevel = .info
        let signals = blockSignals()
        let workers = workerCount(config)
        let control: ControlPlane
        do {
            control = try ControlPlane(config: config, configPath: configPath, workers: workers)
        } catch {
            printError(error.description)
            return 1
        }
        var accessLog: AccessLog?
        if let a = config.accessLog {
            do {
                accessLog = try AccessLog(path: a.path, sampleRate: a.sampleRate, workers: workers)
                accessLog?.start()
            } catch {
                printError("sluice: \(error.description)")
                return 1
            }
        }
        let server = ProxyServer(workerCount: workers, publisher: control.publisher, accessLog: accessLog)
        do {
            try server.bind(config.listeners)
        } catch {
            printError("sluice: cannot listen: \(error.description)")
            return 1
        }
        var admin: AdminServer?
        if let a = config.admin {
            do {
                admin = try AdminServer.start(config: a, control: control, logger: logger)
            } catch {
                printError("sluice: cannot start admin listener: \(error)")
                return 1
            }
        }
        // Always started (one idle thread): a reload may add `notify` entries the first config lacked.
        // Its counters go to the process-wide GlobalStats, so /metrics and /stats show them.
        let notifier = Notifier(stats: control.currentSnapshot.global)
        notifier.start()
        control.setNotificationSink { notification, config in
            notifier.publish(to: config.notifyDestinations(route: notification.route, event: notification.event),
                             body: EvaluationReport.notificationBody(notification))
        }
        // Fleet mode: the agent thread joins the fleet through etcd; until it connects, no step is taken
        // and operator POSTs answer 503.
        var fleet: FleetAgent?
        if let f = config.fleet {
            let name = fleetInstanceName(flag: instance, configured: f.instance)
            let agent = FleetAgent(spec: FleetSpecValues(name: f.name, endpoints: f.endpoints.map { ($0.host, $0.port) },
                                                         leaseTTLNanos: f.leaseTTLNanos, publishEveryNanos: f.publishEveryNanos),
                                   instance: name, plane: control)
            control.attachFleet(instance: name, committer: agent.committer, status: agent.status)
            agent.start()
            // Serve the fleet's state from the first request: /ready waits (bounded) for the first read of it.
            if !agent.waitForFirstSync(seconds: 3) {
                logger.warning("fleet state not read yet (etcd unreachable?): serving the configured state until it is",
                               metadata: ["fleet": "\(f.name)"])
            }
            fleet = agent
        }
        server.start()
        control.healthChecker.start()
        control.setReady(true)
        let listening = server.bound.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
        logger.info("sluice started", metadata: [
            "workers": "\(workers)", "listeners": "\(listening)",
            "max_connections": "\(config.limits.maxConnections ?? server.budget.defaultLimit)",
            "admin": "\(admin.map { "\($0.address)" } ?? "off")",
            "routes": "\(config.routeTable.routes.map(\.name).joined(separator: ","))",
            "config": "\(configPath ?? "built-in")",
            "fleet": "\(fleet.map { "\($0.spec.name)/\($0.instance)" } ?? "standalone")",
        ])
        started?(control, server, admin)
        return signalLoop(signals, control: control, server: server, admin: admin, notifier: notifier,
                          fleet: fleet, config: config, logger: logger)
    }

    private static func signalLoop(_ set: sigset_t, control: ControlPlane, server: ProxyServer, admin: AdminServer?,
                                   notifier: Notifier, fleet: FleetAgent?, config: SluiceConfig, logger: Logger) -> Int32 {
        var set = set
        var timeout = timespec(tv_sec: 0, tv_nsec: 200_000_000)
        while true {
            let sig = sigtimedwait(&set, nil, &timeout)
            control.tick()
            admin?.history.record(control: control)
            if sig == SIGHUP {
                do {
                    let version = try control.reload()
                    logger.info("config reloaded", metadata: ["config_version": "\(version)"])
                } catch {
                    logger.error("reload rejected, old config keeps serving", metadata: ["errors": "\(error.description)"])
                }
            } else if sig == SIGTERM || sig == SIGINT {
                logger.info("draining", metadata: ["signal": "\(sig == SIGTERM ? "SIGTERM" : "SIGINT")",
                                                   "open_connections": "\(server.openConnections)"])
                control.setReady(false)
                let clean = server.drain(timeoutNanos: control.currentConfig.limits.drainTimeoutNanos)
                logger.info("drained", metadata: ["clean": "\(clean)", "left": "\(server.openConnections)"])
                // Stop and join the worker threads (ThreadSanitizer reported them as leaked at exit).
                server.stop()
                fleet?.stop()
                control.healthChecker.stop()
                notifier.stop()
                admin?.stop()
                return 0
            }
        }
    }

    /// This replica's fleet instance name: `--instance`, else `SLUICE_INSTANCE`, else `fleet.instance`,
    /// else the host name.
    static func fleetInstanceName(flag: String?, configured: String?) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let env = getenv("SLUICE_INSTANCE"), let v = String(validatingCString: env), !v.isEmpty { return v }
        if let configured { return configured }
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        // A host name is not checked like the other sources: characters an instance name may not
        // have (it becomes part of etcd keys) are replaced by '-', and it is cut to 128.
        let host = String(String(cString: buf).map { c in
            c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".") ? c : "-"
        }.prefix(128))
        return host.isEmpty ? "sluice" : host
    }
}
