// swift-tools-version: 6.0
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "fullyloaded",
    products: [
        .executable(name: "fullyloaded", targets: ["fullyloaded"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries from Debian packages: libfcgi-dev, libcrypt-dev, libssl-dev, libargon2-dev.
        .systemLibrary(name: "CFastCGI", path: "Sources/CFastCGI"),
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // libargon2-dev: the reference argon2.
        .systemLibrary(name: "CArgon2", path: "Sources/CArgon2"),
        // What Swift cannot call directly (variadic syscall, prctl).
        .target(name: "CSystemShims", path: "Sources/CSystemShims"),
        // fullyloaded's own bcrypt core: several $2b$ hashes interleaved round by round on one
        // thread. Optimised in every build: the suite's differential test hashes thousands.
        .target(
            name: "CBcryptLanes", path: "Sources/CBcryptLanes", exclude: ["blowfish_pi.py"],
            cSettings: [.unsafeFlags(["-O2"])]),
        // The shared-memory segment's layout, its robust lock and futex calls.
        .target(name: "CSharedState", path: "Sources/CSharedState"),
        // The N-second promise: when to admit or refuse (AdmissionPolicy, AdmissionPredictor), the
        // slot queue's decisions (SlotQueue, a value over its storage, unit-tested on arrays) and the
        // cross-process shell around them (AdmissionController, SharedSegment). Member import
        // visibility: only the files that import CSharedState (SharedSegment, SegmentView) can
        // touch the C layout.
        .target(
            name: "Admission", dependencies: ["CSharedState", "POSIXSupport", "ServiceDefaults"],
            swiftSettings: strictSettings + [.enableUpcomingFeature("MemberImportVisibility")]),

        // The defaults of the promise, the hash and the pool: one place for every command,
        // renderer and script (`fullyloaded defaults`). No dependencies.
        .target(name: "ServiceDefaults", swiftSettings: strictSettings),
        // System calls as Swift: errno as typed errors naming the call, one owner per descriptor,
        // processes, sockets, signals, systemd activation. A new system call goes here.
        .target(name: "POSIXSupport", dependencies: ["CSystemShims"], swiftSettings: strictSettings),
        // Small JSON documents without Foundation: responses on the request path, log lines.
        .target(name: "JSONWriting", swiftSettings: strictSettings),
        // The swift-log handler: one JSON object per line.
        .target(
            name: "JSONLogging",
            dependencies: ["JSONWriting", "POSIXSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // The small blocking HTTP/1.1 client: the monitor's ping probe, `up`'s readiness checks, tests.
        .target(name: "LoopbackHTTP", dependencies: ["POSIXSupport"], swiftSettings: strictSettings),
        // libfcgi, wrapped: the accept loop, request threads, peers allowed on TCP.
        .target(name: "FastCGI", dependencies: ["CFastCGI", "POSIXSupport"], swiftSettings: strictSettings),
        // libxcrypt's bcrypt and our interleaved one (CBcryptLanes), OpenSSL's salt and
        // constant-time compare, wiping secrets.
        .target(name: "Bcrypt", dependencies: ["CCrypt", "CBcryptLanes", "COpenSSL"], swiftSettings: strictSettings),
        // argon2id: PHC strings checked against limits before any allocation, hashing through libargon2.
        .target(name: "Argon2", dependencies: ["CArgon2", "COpenSSL", "Bcrypt"], swiftSettings: strictSettings),
        // Routes, validation and JSON answers, without I/O: a new route or input rule goes here
        // (with Docs/api.md, Docs/openapi.yaml and the fuzzer's seeds).
        .target(
            name: "PasswordService",
            dependencies: ["Bcrypt", "Argon2", "JSONWriting", "POSIXSupport", "ServiceDefaults"],
            swiftSettings: strictSettings),
        // One worker process: request threads, low-priority compute threads, signals, graceful stop.
        .target(
            name: "Worker",
            dependencies: [
                "FastCGI", "PasswordService", "Admission", "Argon2", "Bcrypt", "JSONWriting", "POSIXSupport",
                "ServiceDefaults", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The worker's and monitor's command lines as values that parse and render them, and the
        // option groups and flag ranges the commands share: `up` renders its children's
        // arguments with the definitions the children parse them with.
        .target(
            name: "CommandLineOptions",
            dependencies: [
                "Argon2", "Bcrypt", "PasswordService", "POSIXSupport", "ServiceDefaults", "Worker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // `fullyloaded up`: the Supervisor's restart rules (a value type), the loop that carries them
        // out, nginx from templates, the numbers derived from workers, threads and N (NginxUpstreams).
        .target(
            name: "StackRunner",
            dependencies: [
                "Admission", "CommandLineOptions", "LoopbackHTTP", "POSIXSupport", "Worker",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The monitor: samples (/proc/stat, the segment, a ping), WebSocket push, /metrics.
        .target(
            name: "Monitor",
            dependencies: [
                "Admission", "JSONWriting", "LoopbackHTTP", "POSIXSupport", "ServiceDefaults",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The one binary: each command parses its options and calls into the modules above.
        .executableTarget(
            name: "fullyloaded",
            dependencies: [
                "Admission", "Argon2", "Bcrypt", "CommandLineOptions", "Worker", "PasswordService", "StackRunner",
                "POSIXSupport", "Monitor", "JSONLogging", "LoopbackHTTP", "JSONWriting", "ServiceDefaults",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // Starts a real stack (nginx, workers, monitor) for the integration tests.
        .target(
            name: "StackTestSupport",
            dependencies: ["StackRunner", "LoopbackHTTP", "POSIXSupport"],
            swiftSettings: strictSettings
        ),

        // libFuzzer's entry points, for the fuzz targets below (Deploy/dev.sh fuzz).
        .target(name: "FuzzingSupport", path: "Tests/FuzzingSupport", swiftSettings: strictSettings),
        // libFuzzer target for the request parsing and validation.
        .executableTarget(
            name: "RequestFuzzer",
            dependencies: ["PasswordService", "Argon2", "Bcrypt", "POSIXSupport", "FuzzingSupport"],
            path: "Tests/RequestFuzzer", exclude: ["Seeds"], swiftSettings: strictSettings),
        // libFuzzer target: our bcrypt core against libxcrypt, lane by lane.
        .executableTarget(
            name: "BcryptFuzzer", dependencies: ["Bcrypt", "FuzzingSupport"], path: "Tests/BcryptFuzzer",
            swiftSettings: strictSettings),

        .testTarget(
            name: "AdmissionTests", dependencies: ["Admission", "CSharedState", "StackTestSupport"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "MonitorTests", dependencies: ["Monitor", "LoopbackHTTP", "StackTestSupport"],
            swiftSettings: strictSettings),
        .testTarget(name: "JSONLoggingTests", dependencies: ["JSONLogging"], swiftSettings: strictSettings),
        .testTarget(name: "POSIXSupportTests", dependencies: ["POSIXSupport"], swiftSettings: strictSettings),
        .testTarget(name: "JSONWritingTests", dependencies: ["JSONWriting"], swiftSettings: strictSettings),
        .testTarget(
            name: "FastCGITests", dependencies: ["FastCGI", "StackTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "Argon2Tests", dependencies: ["Argon2", "StackTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BcryptTests", dependencies: ["Bcrypt", "StackTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "WorkerTests", dependencies: ["Worker", "Admission", "StackTestSupport", "JSONLogging"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "PasswordServiceTests", dependencies: ["PasswordService", "Argon2", "Bcrypt"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "StackRunnerTests",
            dependencies: ["StackRunner", "LoopbackHTTP", "StackTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ServiceDefaultsTests", dependencies: ["ServiceDefaults", "CommandLineOptions", "Bcrypt"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "CommandLineOptionsTests", dependencies: ["CommandLineOptions", "StackTestSupport"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "LoopbackHTTPTests", dependencies: ["LoopbackHTTP", "POSIXSupport"], swiftSettings: strictSettings),

        // Beyond one module: the whole stack through nginx (real workers, monitor, Chromium)...
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["StackRunner", "FastCGI", "LoopbackHTTP", "POSIXSupport", "StackTestSupport"],
            swiftSettings: strictSettings),
        // ...the Debian package, its shipped configuration and dependency groups, and the system
        // test on a booted Debian 12...
        .testTarget(
            name: "PackageTests", dependencies: ["StackRunner", "POSIXSupport", "StackTestSupport"],
            exclude: ["Expected"], swiftSettings: strictSettings),
        // ...the docs against the binary and the running stack (flags, paths, OpenAPI)...
        .testTarget(
            name: "DocumentationTests", dependencies: ["POSIXSupport", "StackTestSupport"],
            swiftSettings: strictSettings),
        // ...and the benchmark scripts, end to end in their quick modes.
        .testTarget(
            name: "BenchmarkTests", dependencies: ["POSIXSupport", "StackTestSupport"], swiftSettings: strictSettings),
    ],
    swiftLanguageModes: [.v6]
)
