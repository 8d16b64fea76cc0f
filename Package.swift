// swift-tools-version:6.0
import PackageDescription

/// Release builds of the data-plane modules: exclusivity is proven statically where Swift can,
/// and the remaining run-time checks (swift_beginAccess on every class-property mutation) are
/// dropped; debug builds, which run the test suite, keep them and trap on any violation.
/// Aggressive cross-module optimisation lets small SluiceCore/SluiceHTTP1 helpers inline into
/// the proxy's per-request code.
let hotPath: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release)),
]

/// libFuzzer targets (docs/fuzzing.md). Each defines `LLVMFuzzerTestOneInput` and no `main`, so it
/// links only with `-sanitize=fuzzer`: they exist only when `SLUICE_FUZZ` is set (scripts/fuzz sets it),
/// and a plain `swift build` / `swift build -c release` never sees them.
let fuzzing = Context.environment["SLUICE_FUZZ"].map { !$0.isEmpty && $0 != "0" } ?? false
let fuzzTargets: [Target] = !fuzzing ? [] : [
    .target(name: "FuzzSupport", path: "Tests/Fuzz/Sources/FuzzSupport"),
    .executableTarget(name: "FuzzHTTP1Request", dependencies: ["FuzzSupport", "SluiceHTTP1"], path: "Tests/Fuzz/Sources/FuzzHTTP1Request"),
    .executableTarget(name: "FuzzHTTP1Response", dependencies: ["FuzzSupport", "SluiceHTTP1"], path: "Tests/Fuzz/Sources/FuzzHTTP1Response"),
    .executableTarget(name: "FuzzChunked", dependencies: ["FuzzSupport", "SluiceHTTP1"], path: "Tests/Fuzz/Sources/FuzzChunked"),
    .executableTarget(name: "FuzzH2Session", dependencies: ["FuzzSupport", "SluiceHTTP2", "SluiceCore"], path: "Tests/Fuzz/Sources/FuzzH2Session"),
    .executableTarget(name: "FuzzConfig", dependencies: ["FuzzSupport", "SluiceConfig"], path: "Tests/Fuzz/Sources/FuzzConfig"),
    .executableTarget(name: "FuzzJSONPointer", dependencies: ["FuzzSupport", "SluiceRouting"], path: "Tests/Fuzz/Sources/FuzzJSONPointer"),
    .executableTarget(name: "FuzzModelPeek", dependencies: ["FuzzSupport", "SluiceRouting"], path: "Tests/Fuzz/Sources/FuzzModelPeek"),
]

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // epoll, eventfd, timerfd and accept4 are not exposed by Swift's Glibc module.
        .systemLibrary(name: "CSluiceLinux", path: "Sources/CSluiceLinux"),
        .target(name: "SluiceCore", dependencies: ["CSluiceLinux"], swiftSettings: hotPath),
        // OpenSSL 3 macros and SSL_OP_* bits do not import; shim.h re-publishes them.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "SluiceTLS", dependencies: ["COpenSSL", "SluiceCore"], swiftSettings: hotPath),
        // nghttp2 1.52: parenthesised macros and weakly-linked backports are re-published in shim.h.
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .target(name: "SluiceHTTP2", dependencies: ["CNghttp2", "SluiceCore", "SluiceHTTP1"], swiftSettings: hotPath),
        .target(name: "SluiceHTTP1", swiftSettings: hotPath),
        .target(name: "SluiceRouting", dependencies: ["SluiceStats"], swiftSettings: hotPath),
        .target(name: "SluiceStats", swiftSettings: hotPath),
        .target(name: "SluiceConfig", dependencies: ["SluiceRouting", "Yams"]),
        // Threads and blocking I/O off the data plane: DetachedThread, blocking sockets and SimpleHTTPClient,
        // used by the admin listener, the fleet agent (etcd), webhooks, the demo and the CLI.
        .target(name: "SluiceSupport", dependencies: ["SluiceCore", "SluiceHTTP1"]),
        // Fleet mode (docs/fleet.md): shared rollout state over etcd's JSON gateway, off the data plane.
        .target(name: "SluiceFleet", dependencies: [
            "SluiceCore", "SluiceRouting", "SluiceStats", "SluiceSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SluiceProxy", dependencies: [
            "SluiceCore", "SluiceHTTP1", "SluiceHTTP2", "SluiceTLS", "SluiceRouting", "SluiceStats", "SluiceConfig", "SluiceFleet",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotPath),
        .target(name: "SluiceAdmin", dependencies: [
            "SluiceCore", "SluiceHTTP1", "SluiceProxy", "SluiceConfig", "SluiceStats", "SluiceRouting", "SluiceFleet", "SluiceSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SluiceDemo", dependencies: ["SluiceCore", "SluiceHTTP1", "SluiceStats", "SluiceSupport"]),
        .target(name: "SluiceNotify", dependencies: [
            "SluiceConfig", "SluiceSupport", "SluiceStats", "SluiceCore",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // `sluice simulate`: the rollout rules on simulated traffic and time.
        .target(name: "SluiceSimulate", dependencies: ["SluiceRouting", "SluiceStats", "SluiceConfig"], swiftSettings: hotPath),
        .executableTarget(name: "sluice", dependencies: [
            "SluiceProxy", "SluiceAdmin", "SluiceConfig", "SluiceDemo", "SluiceNotify", "SluiceSimulate", "SluiceFleet", "SluiceSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore"]),
        .testTarget(name: "SluiceHTTP1Tests", dependencies: ["SluiceHTTP1"]),
        .testTarget(name: "SluiceRoutingTests", dependencies: ["SluiceRouting", "SluiceStats"]),
        .testTarget(name: "SluiceStatsTests", dependencies: ["SluiceStats"]),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig", "Yams"]),
        .testTarget(name: "SluiceAdminTests", dependencies: ["SluiceAdmin", "SluiceProxy", "SluiceConfig"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SluiceProxy", "SluiceCore", "SluiceConfig", "SluiceDemo", "SluiceFleet", "SluiceSupport"]),
        .testTarget(name: "SluiceDemoTests", dependencies: ["SluiceDemo", "SluiceSupport"]),
        .testTarget(name: "SluiceNotifyTests", dependencies: ["SluiceNotify", "SluiceConfig", "SluiceStats"]),
        .testTarget(name: "SluiceProxyTests", dependencies: ["SluiceProxy", "SluiceConfig"]),
        .testTarget(name: "SluiceFleetTests", dependencies: ["SluiceFleet", "SluiceRouting", "SluiceStats"]),
        .testTarget(name: "SluiceHTTP2Tests", dependencies: ["SluiceHTTP2", "SluiceCore"]),
        .testTarget(name: "SluiceTLSTests", dependencies: ["SluiceTLS", "SluiceCore"]),
        .testTarget(name: "SluiceSimulateTests", dependencies: ["SluiceSimulate", "SluiceRouting", "SluiceStats", "SluiceConfig"]),
    ] + fuzzTargets,
    swiftLanguageModes: [.v6]
)
