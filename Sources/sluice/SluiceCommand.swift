import ArgumentParser
import Glibc
import SluiceConfig
import SluiceCore

/// `sluice`: the traffic-routing sidecar. With no subcommand it runs the demo.
struct SluiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Traffic-routing sidecar for model serving: canary splits, sticky A/B, shadows, rollback.",
        subcommands: [Run.self, Validate.self, Demo.self, Stats.self, Simulate.self],
        defaultSubcommand: Demo.self
    )
}

/// `sluice run --config FILE`
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy with a YAML config.")

    @Option(name: .shortAndLong, help: "Path of the YAML config.")
    var config: String

    @Option(help: "This replica's name in its fleet (overrides SLUICE_INSTANCE and fleet.instance; default: the host name).")
    var instance: String?

    func run() throws {
        if let instance, !FleetSpec.isValidName(instance) {
            printError("sluice: --instance must be 1 to 128 letters, digits, '-', '_' or '.', found '\(instance)'")
            throw ExitCode(1)
        }
        if instance == nil, let raw = getenv("SLUICE_INSTANCE"), case let env = String(cString: raw), !env.isEmpty,
           !FleetSpec.isValidName(env) {
            printError("sluice: SLUICE_INSTANCE must be 1 to 128 letters, digits, '-', '_' or '.', found '\(env)'")
            throw ExitCode(1)
        }
        let loaded: SluiceConfig
        do {
            loaded = try ConfigLoader.load(path: config)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        for warning in loaded.warnings() { printError("sluice: warning: \(warning)") }
        let code = Supervisor.run(config: loaded, configPath: config, instance: instance)
        throw ExitCode(code)
    }
}

/// `sluice validate FILE`
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a YAML config and report every error with its path and line.",
        discussion: "Warnings (such as an admin address off loopback without admin.token_file) go to standard error and do not change the exit status."
    )

    @Argument(help: "Path of the YAML config.")
    var file: String

    func run() throws {
        do {
            let c = try ConfigLoader.load(path: file)
            for warning in c.warnings() { printError("\(file): warning: \(warning)") }
            print("\(file): ok (\(c.listeners.count) listeners, \(c.routeTable.backends.count) backends, \(c.routeTable.routes.count) routes)")
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}
